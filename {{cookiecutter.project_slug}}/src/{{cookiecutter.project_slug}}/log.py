"""Logging: one JSON object a line, a request id on every line, and nothing secret.

`RedactingFilter` sits on the handler, so every record passes it, whichever logger
wrote it: values under secret-sounding keys are replaced, and bearer tokens, JWTs, API
keys and `password=` pairs are masked inside messages. JSON encoding escapes CR and LF,
so user input cannot start a forged line; the console format escapes them too.
"""

import json
import logging
import logging.config
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

access_logger = logging.getLogger(f"{__package__}.access")
error_logger = logging.getLogger(f"{__package__}.errors")

REDACTED = "[REDACTED]"
_SECRET_KEY_NAMES = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|api[_-]?key|credential", re.IGNORECASE
)
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bsk_[A-Za-z0-9_-]{16,}"), REDACTED),
    (
        re.compile(r"(?i)\b(password|passwd|secret|token|api[_-]?key)([\"']?\s*[=:]\s*)[^\s&,;]+"),
        r"\1\2" + REDACTED,
    ),
]
# Attributes every LogRecord has; anything else on a record came from `extra`
# (but uvicorn's `color_message`, the message again with terminal colour codes).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def names_a_secret(key: str) -> bool:
    """Whether a field called `key` would hold a secret: its value never reaches a log."""
    return _SECRET_KEY_NAMES.search(key) is not None


def _redact_value(key: str, value: Any) -> Any:
    if names_a_secret(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    return value


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact_text(message), None
        for key in set(vars(record)) - _STANDARD_ATTRIBUTES:
            setattr(record, key, _redact_value(key, getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
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
