"""Every setting, read from the environment (and `.env`) and validated once, at start-up.

The settings come in groups, one small model per concern, each validating its own fields;
`Settings` puts them together (so every variable keeps its flat name, `settings.PORT`)
and checks what spans groups.
"""

import ipaddress
import json
import os
from functools import lru_cache
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    EmailStr,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .security.rate_limit import parse_limit

# Values that show up in tutorials and example files; a key equal to one of them is public.
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "your_secret_key",
        "supersecret",
        "mysecret",
        "password",
    }
)
MIN_SECRET_KEY_LENGTH = 32
MIN_DOCS_PASSWORD_LENGTH = 16
{%- if cookiecutter.database == "postgresql" and cookiecutter.use_docker == "yes" %}
# Names in .env that are not settings: docker compose reads them from the same file.
NOT_SETTINGS = frozenset({"POSTGRES_PASSWORD"})
{%- else %}
# Names in .env that are not settings but belong there (read by other tools): none.
NOT_SETTINGS: frozenset[str] = frozenset()
{%- endif %}

# Settings this version no longer has, and why. `extra="ignore"` would drop one silently,
# and a project upgrading would never learn that what it configured stopped happening.
REMOVED_SETTINGS = {
    "COOKIE_DOMAIN": (
        "COOKIE_DOMAIN is no longer a setting: cookies shared with a parent domain reach "
        "every sibling subdomain, whose pages could replay the session's tokens. The "
        "session cookies are always host-only now (a front end on app.example.com works "
        "with host-only cookies of api.example.com, the same site); remove COOKIE_DOMAIN "
        "from the environment and .env"
    ),
}


def _split_list(value: object) -> object:
    """Accept a JSON list or a comma-separated string (.env.example shows both)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


def _empty_means_unset(value: object) -> object:
    """`NAME=` in .env leaves an optional setting unset, as if the line were not there."""
    return None if value == "" else value


def _split_keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def _refuse_weak_secret(name: str, secret: str, min_length: int = 0) -> None:
    """Refuse a secret anyone could know or guess; the message names it, never shows it."""
    if secret.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is a well-known placeholder; set a random one")
    if len(secret) < min_length:
        raise ValueError(f"{name} must be at least {min_length} characters")


{% if cookiecutter.passkeys == "yes" -%}
def _bare(url: str) -> str:
    """The origin of `url`: scheme and host (with a port), lower case, nothing after."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


{% endif -%}
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_means_unset)]
OptionalEmail = Annotated[EmailStr | None, BeforeValidator(_empty_means_unset)]


class KeySettings(BaseModel):
    """The keys that sign tokens and encrypt secrets at rest."""

    SECRET_KEY: SecretStr
    # Keys that encrypt TOTP secrets, comma-separated: the first encrypts, any decrypts
    # (the `rotate-mfa-key` command, cli.py, re-encrypts). Empty: SECRET_KEY alone.
    MFA_ENCRYPTION_KEY: OptionalSecret = None

    @field_validator("SECRET_KEY")
    @classmethod
    def _secret_key_is_strong(cls, value: SecretStr) -> SecretStr:
        _refuse_weak_secret("SECRET_KEY", value.get_secret_value(), MIN_SECRET_KEY_LENGTH)
        return value

    @field_validator("MFA_ENCRYPTION_KEY")
    @classmethod
    def _mfa_keys_are_strong(cls, value: SecretStr | None) -> SecretStr | None:
        keys = _split_keys(value.get_secret_value()) if value is not None else []
        if value is not None and not keys:
            raise ValueError("MFA_ENCRYPTION_KEY holds no key; leave it empty or list keys")
        for position, key in enumerate(keys, start=1):
            # Named by position: the message must not show a key.
            _refuse_weak_secret(f"MFA_ENCRYPTION_KEY's key {position}", key, MIN_SECRET_KEY_LENGTH)
        return value

    @property
    def mfa_encryption_keys(self) -> list[str]:
        """The keys of TOTP secrets, the one that encrypts first."""
        if self.MFA_ENCRYPTION_KEY is None:
            return [self.SECRET_KEY.get_secret_value()]
        return _split_keys(self.MFA_ENCRYPTION_KEY.get_secret_value())


class ApplicationSettings(BaseModel):
    """What the app is, where it listens, and how much it reveals."""

    ENVIRONMENT: Literal["development", "production"] = "development"
    DEBUG: bool = False
    PROJECT_NAME: str = "{{ cookiecutter.project_name }}"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)

    @model_validator(mode="after")
    def _no_debug_in_production(self) -> Self:
        if self.is_production and self.DEBUG:
            raise ValueError("DEBUG must be off when ENVIRONMENT=production")
        return self

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT == "production"


class StoreSettings(BaseModel):
    """Where the app keeps its data."""
{% if cookiecutter.database == "postgresql" %}
    DATABASE_URL: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/{{ cookiecutter.project_slug }}"
{%- else %}
    DATABASE_URL: str = "sqlite+aiosqlite:///./{{ cookiecutter.project_slug }}.db"
{%- endif %}
{%- if cookiecutter.use_redis == "yes" %}
    # Rate-limit counters and auth versions shared by every worker. Empty: in the process.
    REDIS_URL: str = ""

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url_is_redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must be a redis://, rediss:// or unix:// URL")
        return value
{%- endif %}

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")


class HttpSettings(BaseModel):
    """Who may call the API from a browser, under which Host, through which proxies."""

    CORS_ORIGINS: CommaList = []
    CORS_ALLOW_CREDENTIALS: bool = True
    ALLOWED_HOSTS: CommaList = ["localhost", "127.0.0.1", "[::1]"]
    TRUSTED_PROXIES: CommaList = []

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(f"{proxy!r} is not an IP address or network") from exc
        return proxies

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _origins_are_exact(cls, origins: list[str]) -> list[str]:
        exact = []
        for origin in origins:
            if origin == "*":
                exact.append(origin)
                continue
            if origin == "null":
                raise ValueError(
                    "CORS_ORIGINS must not contain 'null' (any sandboxed page sends it)"
                )
            parts = urlsplit(origin.rstrip("/"))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"CORS_ORIGINS entry {origin!r} is not an http(s) origin")
            if parts.path or parts.query or parts.fragment or parts.username:
                raise ValueError(f"CORS_ORIGINS entry {origin!r} must be a bare origin")
            exact.append(f"{parts.scheme}://{parts.netloc}")
        return exact

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Self:
        if "*" in self.CORS_ORIGINS and self.CORS_ALLOW_CREDENTIALS:
            raise ValueError(
                "CORS_ORIGINS='*' together with CORS_ALLOW_CREDENTIALS lets any site act as "
                "the logged-in user; list exact origins"
            )
        return self


class CookieSettings(BaseModel):
    """Browser sessions in HttpOnly cookies (/auth/cookie/*: auth/cookie_router.py,
    docs/browser-sessions.md)."""

    COOKIE_SESSIONS: bool = True
    # Empty: true in production, false in development (a front end on http://localhost).
    COOKIE_SECURE: Annotated[bool | None, BeforeValidator(_empty_means_unset)] = None
    # No "none": cookies made for another site would only reach requests that the
    # cross-site rule (access/transports.py) refuses; such a front end uses bearer tokens.
    COOKIE_SAMESITE: Literal["strict", "lax"] = "strict"


class TokenSettings(BaseModel):
    """Lifetimes of tokens and mailed links, and what access tokens say they are for."""

    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=15, ge=1, le=24 * 60)
    REFRESH_TOKEN_EXPIRE_DAYS: int = Field(default=7, ge=1, le=90)
    # A spent refresh token presented again within this many seconds answers 401 without
    # ending the session (two tabs refreshing at once); later, it ends the session.
    REFRESH_REUSE_GRACE_SECONDS: int = Field(default=5, ge=0, le=60)
    PASSWORD_RESET_EXPIRE_MINUTES: int = Field(default=30, ge=5, le=60)
    EMAIL_VERIFICATION_EXPIRE_HOURS: int = Field(default=48, ge=1, le=24 * 14)
    REQUIRE_VERIFIED_EMAIL: bool = False
    JWT_ISSUER: str = "{{ cookiecutter.project_slug }}"
    JWT_AUDIENCE: str = "{{ cookiecutter.project_slug }}-api"


class LimitSettings(BaseModel):
    """How much one caller may ask, and how big a request may be."""

    RATE_LIMIT_LOGIN: str = "5/minute"
    RATE_LIMIT_REFRESH: str = "60/minute"
    RATE_LIMIT_DEFAULT: str = "100/minute"
    MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024)

    @field_validator("RATE_LIMIT_LOGIN", "RATE_LIMIT_REFRESH", "RATE_LIMIT_DEFAULT")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        parse_limit(value)
        return value


class DocsSettings(BaseModel):
    """HTTP Basic credentials for the API docs; without a password they are not served."""

    DOCS_USERNAME: str = "docs"
    DOCS_PASSWORD: OptionalSecret = None

    @field_validator("DOCS_PASSWORD")
    @classmethod
    def _docs_password_is_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            # Anyone who reaches /docs may guess it, at network speed.
            _refuse_weak_secret("DOCS_PASSWORD", value.get_secret_value(), MIN_DOCS_PASSWORD_LENGTH)
        return value


class FirstAdminSettings(BaseModel):
    """The admin created on start-up when there is none."""

    FIRST_ADMIN_USERNAME: str = "admin"
    FIRST_ADMIN_EMAIL: OptionalEmail = None
    FIRST_ADMIN_PASSWORD: OptionalSecret = None

    @field_validator("FIRST_ADMIN_PASSWORD")
    @classmethod
    def _first_admin_password_is_not_public(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _refuse_weak_secret("FIRST_ADMIN_PASSWORD", value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _email_and_password_together(self) -> Self:
        if bool(self.FIRST_ADMIN_EMAIL) != bool(self.FIRST_ADMIN_PASSWORD):
            raise ValueError("FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD must be set together")
        return self


class MailSettings(BaseModel):
    """Outgoing mail, and the front end its links open."""

    SMTP_HOST: str = ""
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    SMTP_USER: str = ""
    SMTP_PASSWORD: OptionalSecret = None
    SMTP_TLS: bool = True
    EMAIL_FROM: str = "no-reply@localhost"
    # Where security mail tells a user to write when a change was not theirs.
    SUPPORT_EMAIL: OptionalEmail = None
    FRONTEND_URL: str = "http://localhost:3000"


class HousekeepingSettings(BaseModel):
    """How long rows are kept, and how often expired ones are deleted."""

    # How often the app deletes expired rows (purge.py); 0: never in the app, run the
    # `purge` command from cron instead.
    PURGE_INTERVAL_MINUTES: int = Field(default=60, ge=0, le=7 * 24 * 60)
    # Days the audit trail keeps an event (GET /admin/audit-events); older ones are purged.
    AUDIT_RETENTION_DAYS: int = Field(default=90, ge=1, le=100 * 366)


class HashingSettings(BaseModel):
    """The cost of a password hash, and how many may run or wait at once."""

    # RFC 9106's second recommended Argon2id profile: 3 passes over 64 MiB, 4 lanes.
    ARGON2_TIME_COST: int = Field(default=3, ge=1)
    ARGON2_MEMORY_COST: int = Field(default=64 * 1024, ge=8)
    ARGON2_PARALLELISM: int = Field(default=4, ge=1)
    # Each running hash holds ARGON2_MEMORY_COST KiB; this bounds the total.
    PASSWORD_HASH_WORKERS: int = Field(default=2, ge=1, le=64)
    # Hashes that may wait for a worker; past that a request gets 503 (load shedding).
    PASSWORD_HASH_QUEUE: int = Field(default=32, ge=0, le=10_000)


class ObservabilitySettings(BaseModel):
    """What the app tells its operators: logs{% if cookiecutter.use_sentry == "yes" %}, error reports{% endif %}{% if cookiecutter.use_opentelemetry == "yes" %}, traces{% endif %}."""

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] = "json"
{%- if cookiecutter.use_sentry == "yes" %}
    # Where error reports go (sentry.py): the project's DSN from Sentry. Empty: none are sent.
    SENTRY_DSN: str = ""
{%- endif %}
{%- if cookiecutter.use_opentelemetry == "yes" %}
    # The OTLP/HTTP collector traces go to (tracing.py), such as http://127.0.0.1:4318.
    # Empty: nothing is traced.
    OTEL_EXPORTER_OTLP_ENDPOINT: str = ""
    OTEL_SERVICE_NAME: str = "{{ cookiecutter.project_slug }}"
{%- endif %}
{%- if cookiecutter.use_sentry == "yes" %}

    @field_validator("SENTRY_DSN")
    @classmethod
    def _sentry_dsn_is_a_dsn(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (
            parts.scheme not in ("http", "https") or not parts.username or not parts.path.strip("/")
        ):
            raise ValueError("SENTRY_DSN must be a DSN such as https://key@o1.ingest.sentry.io/2")
        return value
{%- endif %}
{%- if cookiecutter.use_opentelemetry == "yes" %}

    @field_validator("OTEL_EXPORTER_OTLP_ENDPOINT")
    @classmethod
    def _otlp_endpoint_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(
                "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://127.0.0.1:4318"
            )
        return value
{%- endif %}


{% if cookiecutter.passkeys == "yes" -%}
class PasskeySettings(BaseModel):
    """Passkeys (WebAuthn): the site a passkey belongs to and the pages that may use it
    (passkeys/, docs/passkeys.md). Checked against each other in `Settings`."""

    # The relying party ID: a domain, the host of every origin or a parent of them all.
    # Empty: the host of FRONTEND_URL.
    WEBAUTHN_RP_ID: Annotated[str | None, BeforeValidator(_empty_means_unset)] = None
    # The origins of the pages that register and use passkeys. Empty: FRONTEND_URL's.
    WEBAUTHN_ORIGINS: CommaList = []


{% endif -%}
class Settings(
    KeySettings,
    ApplicationSettings,
    StoreSettings,
    HttpSettings,
    CookieSettings,
    TokenSettings,
    LimitSettings,
    DocsSettings,
    FirstAdminSettings,
    MailSettings,
    HousekeepingSettings,
    HashingSettings,
    ObservabilitySettings,
{%- if cookiecutter.passkeys == "yes" %}
    PasskeySettings,
{%- endif %}
    BaseSettings,
):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        # Names .env holds that are no setting are refused below, naming them.
        extra="ignore",
        frozen=True,
        # A rejected SECRET_KEY must not be echoed into a start-up log.
        hide_input_in_errors=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_removed_settings(cls, data: Any) -> Any:
        """Refuse a removed setting given a value in the environment, `.env` (whose other
        entries arrive here with the arguments) or the arguments. An empty one asks for
        nothing the app no longer does."""
        given = {name.upper(): value for name, value in os.environ.items()}
        if isinstance(data, dict):
            given |= {str(name).upper(): value for name, value in data.items()}
        for name, reason in REMOVED_SETTINGS.items():
            if given.get(name) not in (None, ""):
                raise ValueError(reason)
        return data

    @model_validator(mode="before")
    @classmethod
    def _env_file_names_only_settings(cls, data: Any) -> Any:
        """A name in .env that is no setting is refused: a misspelt name would otherwise
        leave its setting at the default, unnoticed. (The environment itself holds many
        other programs' variables; only the names of settings are read from it.)"""
        if not isinstance(data, dict):
            return data
        known = {name.upper() for name in cls.model_fields} | NOT_SETTINGS | set(REMOVED_SETTINGS)
        unknown = sorted(
            str(name).upper()
            for name, value in data.items()
            if str(name).upper() not in known and value != ""
        )
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} in .env: not a setting of this project; "
                "correct the name or remove the line"
            )
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_combinations(self) -> Self:
        if self.is_production and "*" in self.CORS_ORIGINS:
            raise ValueError("CORS_ORIGINS='*' is refused when ENVIRONMENT=production")
        if self.COOKIE_SESSIONS and "*" in self.CORS_ORIGINS:
            raise ValueError(
                "CORS_ORIGINS='*' lets every site send cookie requests; with COOKIE_SESSIONS "
                "list exact origins (or set COOKIE_SESSIONS=false)"
            )
        return self

    @property
    def cookie_secure(self) -> bool:
        return self.is_production if self.COOKIE_SECURE is None else self.COOKIE_SECURE
{%- if cookiecutter.passkeys == "yes" %}

    @model_validator(mode="after")
    def _passkey_site_holds(self) -> Self:
        rp_id = self.webauthn_rp_id
        if not rp_id or _is_ip_address(rp_id):
            raise ValueError(
                f"WEBAUTHN_RP_ID {rp_id!r} must be a domain name (browsers refuse IP addresses)"
            )
        for origin in self.webauthn_origins:
            parts = urlsplit(origin)
            host = parts.hostname or ""
            bare = origin == _bare(origin) and parts.username is None
            if parts.scheme not in ("http", "https") or not host or not bare:
                raise ValueError(f"WEBAUTHN_ORIGINS entry {origin!r} is not a bare http(s) origin")
            if parts.scheme == "http" and host != "localhost":
                raise ValueError(
                    f"WEBAUTHN_ORIGINS entry {origin!r}: browsers offer passkeys to https "
                    "pages only (and http://localhost)"
                )
            if host != rp_id and not host.endswith("." + rp_id):
                raise ValueError(
                    f"WEBAUTHN_ORIGINS entry {origin!r} is not on WEBAUTHN_RP_ID {rp_id!r} "
                    "or a subdomain of it"
                )
        return self

    @property
    def webauthn_rp_id(self) -> str:
        """The passkeys' relying party ID: WEBAUTHN_RP_ID, else the host of FRONTEND_URL."""
        if self.WEBAUTHN_RP_ID is not None:
            return self.WEBAUTHN_RP_ID.strip().lower()
        return urlsplit(self.FRONTEND_URL).hostname or ""

    @property
    def webauthn_origins(self) -> list[str]:
        """The origins passkeys are used from: WEBAUTHN_ORIGINS, else FRONTEND_URL's."""
        if self.WEBAUTHN_ORIGINS:
            return list(self.WEBAUTHN_ORIGINS)
        return [_bare(self.FRONTEND_URL)]
{%- endif %}


@lru_cache
def get_settings() -> Settings:
    return Settings()
