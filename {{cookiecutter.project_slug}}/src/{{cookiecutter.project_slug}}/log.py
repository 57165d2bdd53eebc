"""Logging: one JSON object a line, a request id on every line, and nothing secret.

`RedactingFilter` sits on the handler, so every record passes it, whichever logger
wrote it: values under secret names are replaced, and bearer tokens, JWTs, API keys and
`name=value` pairs under a secret name are masked inside messages. JSON encoding escapes
CR and LF, so user input cannot start a forged line; the console format escapes them too.

The one rule for a secret name, for the keys of records, error reports and spans and
for the names of pairs in text and query strings alike (`names_a_secret`): split the
name into word parts (at `_`, `-`, `.` and camelCase humps: `MFA_ENCRYPTION_KEY`,
`X-CSRF-Token`, `newPassword`). It is secret when a part contains password, passwd,
passphrase, secret, token, credential, authorization, cookie or csrf, or a part is one
of key, keys, apikey, code, codes, pass, pwd, dsn, jwt or otp (`api_key`, `mfa_code`,
`recovery_codes`, `db_pwd`, `DATABASE_DSN`). The exceptions: a name whose last part is
id, ids or count names or counts secrets without holding one (`key_id`, `keys_count`),
and a name ending in status_code is an HTTP status.

A secret value is masked whole: a quoted one (`"password": "a b"`) up to its closing
quote, an unquoted one (`password=a b`) up to the next `&`, `,`, `;` or the end of the
line, so a passphrase with spaces goes entirely, with whatever follows it on the line.
A query string (`redact_query`) is masked pair by pair, its names read percent-decoded.

The access line, one per request, is the hottest line there is: `AccessLog` writes it
in the JSON format without logging's record machinery (see there).
"""

import asyncio
import json
import logging
import logging.config
import re
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, Literal
from urllib.parse import unquote_plus

# What a line logged outside any request shows as its request id.
NO_REQUEST_ID = "-"
request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST_ID)

access_logger = logging.getLogger(f"{__package__}.access")

# The keys every JSON line starts with, in this order; a record's own fields follow.
LINE_KEYS = ("time", "level", "logger", "message")
# The access record's own fields, in the order its line writes them.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client", "user_id")
# Added to every record by RequestIdFilter, so it follows the record's own fields.
REQUEST_ID_KEY = "request_id"
error_logger = logging.getLogger(f"{__package__}.errors")

REDACTED = "[REDACTED]"
# See the module docstring: words a name part need only contain, whole parts, and the
# last parts (or trailing pair) that make a name an identifier, a count or a status.
_SECRET_WORDS_IN_PARTS = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "authorization",
    "cookie", "csrf",
)  # fmt: skip
_SECRET_PARTS = frozenset(
    ("key", "keys", "apikey", "code", "codes", "pass", "pwd", "dsn", "jwt", "otp")
)
_NAMING_PARTS = frozenset(("id", "ids", "count"))
_STATUS_CODE = ["status", "code"]
# A name's word parts: runs of capitals (an acronym), capitalised or lower words, digits.
_NAME_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A name as it stands before its value in text, and the separator up to the value.
_PAIR_HEAD = re.compile(r"(?<![\w.-])([\w.-]+)([\"']?[ \t]*[=:][ \t]*)([\"']?)")
# A value's end: the matching quote (a backslash escapes), or the next separator.
_VALUE_END = {
    '"': re.compile(r'(?:\\.|[^"\\\r\n])*'),
    "'": re.compile(r"(?:\\.|[^'\\\r\n])*"),
    "": re.compile(r"[^&,;\r\n]*"),
}
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bsk_[A-Za-z0-9_-]{16,}"), REDACTED),
    # The rest of a line where a database error quotes a row's values (PostgreSQL's
    # DETAIL: "Failing row contains (...)", "Key (email)=(...) already exists"): the
    # values are a statement's parameters, which the engine already hides.
    (
        re.compile(r"((?:\bDETAIL:|\bFailing row contains|\bKey \([^)\n]*\)=)\s*)[^\n]*"),
        r"\1" + REDACTED,
    ),
]
# Attributes every LogRecord has; anything else on a record came from `extra`
# (but uvicorn's `color_message`, the message again with terminal colour codes).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


# Each of _SECRET_PATTERNS, and each secret name, needs one of these (lower-cased): most
# text (a request path) has none, and looking for them is ten times cheaper than the
# substitutions.
_SECRET_WORDS = (
    "bearer", "basic", "eyj", "sk_", "pass", "pwd", "secret", "token", "authorization",
    "cookie", "credential", "csrf", "otp", "key", "code", "dsn", "jwt", "detail:",
    "failing row",
)  # fmt: skip


def redact_text(text: str) -> str:
    lowered = text.lower()
    if not any(word in lowered for word in _SECRET_WORDS):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _mask_pairs(text)


def _mask_pairs(text: str) -> str:
    """`text` with the value of each `name=value` or `name: value` pair under a secret
    name masked whole (see the module docstring for where a value ends)."""
    pieces: list[str] = []
    done = 0
    for head in _PAIR_HEAD.finditer(text):
        if head.start() < done or not names_a_secret(head[1]):
            continue
        quote = head[3]
        value = _VALUE_END[quote].match(text, head.end())
        if value is None or value.end() == head.end():
            continue
        pieces += [text[done : head.end()], REDACTED]
        done = value.end()
    return "".join(pieces) + text[done:] if pieces else text


def redact_query(query: str) -> str:
    """A query string with the value of each pair under a secret name masked, names read
    percent-decoded (`refresh%5Ftoken`); the other values masked as text is."""
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if names_a_secret(unquote_plus(name)):
            pairs.append(f"{name}{equals}{REDACTED}")
        else:
            pairs.append(f"{name}{equals}{redact_text(value)}")
    return "&".join(pairs)


def names_a_secret(key: str) -> bool:
    """Whether a field or parameter called `key` would hold a secret: its value never
    reaches a log, an error report or a trace (the rule: the module docstring)."""
    parts = [part.lower() for part in _NAME_PART.findall(key)]
    if not parts or parts[-1] in _NAMING_PARTS or parts[-2:] == _STATUS_CODE:
        return False
    return any(
        part in _SECRET_PARTS or any(word in part for word in _SECRET_WORDS_IN_PARTS)
        for part in parts
    )


def redact_value(key: str, value: Any) -> Any:
    """`value`, found under `key`, with secrets masked: all of it if the key sounds
    secret, else in its text, through dicts (by their keys) and lists."""
    if names_a_secret(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact_text(message), None
        for key in set(vars(record)) - _STANDARD_ATTRIBUTES:
            setattr(record, key, redact_value(key, getattr(record, key)))
        if record.exc_info:
            # Another handler may have formatted (and cached) the traceback already.
            traceback = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(traceback)
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        setattr(record, REQUEST_ID_KEY, request_id_var.get())
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        head = (
            datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            record.levelname,
            record.name,
            record.getMessage(),
        )
        entry: dict[str, Any] = dict(zip(LINE_KEYS, head, strict=True)) | _extras(record)
        if record.exc_info:
            entry["exc_info"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        time = self.formatTime(record)
        line = f"{time} {record.levelname} {record.name} {record.getMessage()} {fields}"
        if record.exc_info:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
            return line
        return line.replace("\r", "\\r").replace("\n", "\\n")


def _json_string(value: str | None) -> str:
    # The C encoder json.dumps uses: quotes, backslashes and control characters (CR and
    # LF among them) escaped, non-ASCII as \u escapes, like the rest of the log.
    return "null" if value is None else encode_basestring_ascii(value)


class AccessLog:
    """The access line: time, request id, method, path, status, duration, client, user id.

    Through `logging`, a line costs a LogRecord, two filters whose regexes run over
    every field, a datetime, json.dumps and a write to the file: a large share of a
    cached request. So once `write_to` names a handler (configure_logging
    does, for the JSON format), the line is formatted here and written to that
    handler's stream under its lock, flushed once per pass of the event loop: the line
    JsonFormatter would write, its keys taken from the same LINE_KEYS and ACCESS_FIELDS.
    Every string is JSON-escaped, so CR and LF cannot start a forged line; the request
    id is the one RequestIdFilter would add; of the fields, only the path is chosen by
    the caller, and only it can hold a secret, so it alone is redacted. Otherwise (the
    console format, an app built without configure_logging) the line goes through
    `access_logger` like any other. Either way it is written only while `access_logger`
    is enabled for INFO.
    """

    def __init__(self) -> None:
        self._handler: logging.StreamHandler[Any] | None = None
        self._flush_pending = False
        # The time to the second, formatted once a second rather than once a line.
        self._second = -1
        self._second_text = ""

    def write_to(self, handler: "logging.StreamHandler[Any] | None") -> None:
        self._handler = handler

    @staticmethod
    def enabled() -> bool:
        return access_logger.isEnabledFor(logging.INFO)

    def _time(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            moment = datetime.fromtimestamp(second, UTC)
            self._second, self._second_text = second, moment.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"

    def write(
        self,
        *,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        client: str | None,
        user_id: str | None,
    ) -> None:
        handler = self._handler
        if handler is None:
            values = (method, path, status, duration_ms, client, user_id)
            access_logger.info("request", extra=dict(zip(ACCESS_FIELDS, values, strict=True)))
            return
        line = _ACCESS_LINE % (
            self._time(time.time()),
            _json_string(method),
            _json_string(redact_text(path)),
            status,
            duration_ms,
            _json_string(client),
            _json_string(user_id),
            _json_string(request_id_var.get()),
        )
        handler.acquire()
        try:
            handler.stream.write(line)
        finally:
            handler.release()
        self._flush_soon(handler)

    def _flush_soon(self, handler: "logging.StreamHandler[Any]") -> None:
        """Flush once the event loop has run what is ready: the requests that end in the
        same pass share one write to the file (another record's write flushes them
        first, in order; so does logging's shutdown at exit)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            handler.flush()
            return
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush, handler)

    def _flush(self, handler: "logging.StreamHandler[Any]") -> None:
        self._flush_pending = False
        handler.flush()


# How the access line writes each value: the constant ones pre-encoded, a placeholder
# for the others (strings JSON-encoded by `write`; json.dumps writes a float as repr).
_ACCESS_VALUES = {
    "time": '"%s"',
    "level": '"INFO"',
    "logger": _json_string(access_logger.name),
    "message": '"request"',
    "method": "%s",
    "path": "%s",
    "status": "%d",
    "duration_ms": "%r",
    "client": "%s",
    "user_id": "%s",
    REQUEST_ID_KEY: "%s",
}
# The line JsonFormatter writes for the access record: its keys in its order.
ACCESS_LINE_KEYS = (*LINE_KEYS, *ACCESS_FIELDS, REQUEST_ID_KEY)
_ACCESS_LINE = (
    "{"
    + ", ".join(f"{_json_string(key)}: {_ACCESS_VALUES[key]}" for key in ACCESS_LINE_KEYS)
    + "}\n"
)
access_log = AccessLog()


def configure_logging(level: str, log_format: Literal["json", "console"]) -> None:
    formatter = JsonFormatter if log_format == "json" else ConsoleFormatter
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "request_id": {"()": RequestIdFilter},
                "redact": {"()": RedactingFilter},
            },
            "formatters": {"default": {"()": formatter}},
            "handlers": {
                "default": {
                    "class": "logging.StreamHandler",
                    "formatter": "default",
                    "filters": ["request_id", "redact"],
                    "stream": "ext://sys.stdout",
                }
            },
            "root": {"handlers": ["default"], "level": level},
            "loggers": {
                # Replaced by our own access line, which carries the request id.
                "uvicorn.access": {"handlers": [], "propagate": False},
                "uvicorn.error": {"handlers": [], "propagate": True},
                "uvicorn": {"handlers": [], "propagate": True},
            },
        }
    )
    # The one handler configured above, on the root logger.
    handler = logging.getLogger().handlers[0]
    access_log.write_to(
        handler if log_format == "json" and isinstance(handler, logging.StreamHandler) else None
    )
