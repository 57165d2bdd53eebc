"""Start-up refuses settings that would make the app unsafe, without echoing secrets."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from {{ cookiecutter.project_slug }}.config import Settings

from .conftest import TEST_SECRET_KEY


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: no variable of the caller's shell leaks in."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def _refusal(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        _settings(**values)
    text = str(caught.value)
    # Whatever the complaint, no secret that was given reaches the message.
    assert TEST_SECRET_KEY not in text
    return text


def test_valid_settings_are_accepted() -> None:
    settings = _settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings.SECRET_KEY.get_secret_value() == TEST_SECRET_KEY
    assert TEST_SECRET_KEY not in repr(settings)


def test_missing_secret_key_is_refused_naming_it() -> None:
    text = _refusal()
    assert "SECRET_KEY" in text
    assert "Field required" in text


@pytest.mark.parametrize("key", ["", "tooShort-Qz7", "k" * 31])
def test_short_secret_key_is_refused_without_echoing_it(key: str) -> None:
    text = _refusal(SECRET_KEY=key)
    assert "SECRET_KEY" in text
    assert "at least 32 characters" in text
    if key:
        assert key not in text


@pytest.mark.parametrize(
    "key", ["changeme", "secret", "your-secret-key", "CHANGEME", " your-secret-key "]
)
def test_placeholder_secret_key_is_refused_without_echoing_it(key: str) -> None:
    text = _refusal(SECRET_KEY=key)
    assert "SECRET_KEY" in text
    assert "placeholder" in text
    assert key.strip() not in text


def test_secret_key_of_32_characters_is_accepted() -> None:
    _settings(SECRET_KEY="k" * 32)


def test_wildcard_cors_with_credentials_is_refused() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, CORS_ORIGINS="*")
    assert "CORS_ORIGINS" in text


def test_wildcard_cors_without_credentials_or_cookie_sessions_is_allowed() -> None:
    settings = _settings(
        SECRET_KEY=TEST_SECRET_KEY,
        CORS_ORIGINS="*",
        CORS_ALLOW_CREDENTIALS=False,
        COOKIE_SESSIONS=False,
    )
    assert settings.CORS_ORIGINS == ["*"]


def test_wildcard_cors_is_refused_with_cookie_sessions() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, CORS_ORIGINS="*", CORS_ALLOW_CREDENTIALS=False)
    assert "CORS_ORIGINS='*' lets every site send cookie requests" in text


def test_samesite_none_is_refused_naming_the_setting() -> None:
    # A cookie for another site's pages would only come with requests the cross-site
    # rule refuses.
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, COOKIE_SAMESITE="none", COOKIE_SECURE=True)
    assert "COOKIE_SAMESITE" in text
    assert "'strict' or 'lax'" in text


def test_cookies_are_secure_by_default_in_production_only() -> None:
    assert not _settings(SECRET_KEY=TEST_SECRET_KEY).cookie_secure
    production = _settings(SECRET_KEY=TEST_SECRET_KEY, ENVIRONMENT="production")
    assert production.cookie_secure


def test_cookie_domain_is_refused_saying_why() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, COOKIE_DOMAIN="example.com")
    assert "COOKIE_DOMAIN is no longer a setting" in text
    assert "sibling subdomain" in text


def test_cookie_domain_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOKIE_DOMAIN", "example.com")
    assert "COOKIE_DOMAIN is no longer a setting" in _refusal(SECRET_KEY=TEST_SECRET_KEY)


def test_empty_cookie_domain_left_in_the_environment_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What .env.example used to hold: it asked for the host-only cookies there are now.
    monkeypatch.setenv("COOKIE_DOMAIN", "")
    _settings(SECRET_KEY=TEST_SECRET_KEY)


def test_running_the_package_with_cookie_domain_in_dotenv_exits_naming_it(
    tmp_path: Path,
) -> None:
    env = {name: value for name, value in os.environ.items() if name not in Settings.model_fields}
    env.pop("COOKIE_DOMAIN", None)
    (tmp_path / ".env").write_text(
        f"SECRET_KEY={TEST_SECRET_KEY}\nCOOKIE_DOMAIN=example.com\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.project_slug }}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "COOKIE_DOMAIN is no longer a setting" in result.stderr


def test_null_cors_origin_is_refused() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, CORS_ORIGINS="https://app.example.com,null")
    assert "CORS_ORIGINS" in text
    assert "'null'" in text


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com/app",
        "app.example.com",
        "ftp://app.example.com",
        "http://",
        "https://app.example.com?next=1",
        "https://app.example.com#top",
        "https://user:pw@app.example.com",
    ],
)
def test_cors_origin_that_is_not_an_exact_origin_is_refused(origin: str) -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, CORS_ORIGINS=origin)
    assert "CORS_ORIGINS" in text


def test_debug_in_production_is_refused() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, ENVIRONMENT="production", DEBUG=True)
    assert "DEBUG must be off when ENVIRONMENT=production" in text


def test_first_admin_email_without_password_is_refused() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, FIRST_ADMIN_EMAIL="admin@example.com")
    assert "FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD must be set together" in text


@pytest.mark.parametrize("name", ["DOCS_PASSWORD", "FIRST_ADMIN_PASSWORD"])
def test_placeholder_credential_is_refused(name: str) -> None:
    values: dict[str, Any] = {"SECRET_KEY": TEST_SECRET_KEY, name: "changeme"}
    if name == "FIRST_ADMIN_PASSWORD":
        values["FIRST_ADMIN_EMAIL"] = "admin@example.com"
    text = _refusal(**values)
    assert f"{name} is a well-known placeholder" in text
    assert "changeme" not in text


def test_wildcard_cors_is_refused_in_production() -> None:
    text = _refusal(
        SECRET_KEY=TEST_SECRET_KEY,
        ENVIRONMENT="production",
        CORS_ORIGINS="*",
        CORS_ALLOW_CREDENTIALS=False,
    )
    assert "CORS_ORIGINS='*' is refused when ENVIRONMENT=production" in text


def test_short_docs_password_is_refused() -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, DOCS_PASSWORD="fifteen-chars!!")
    assert "DOCS_PASSWORD must be at least 16 characters" in text
    assert "fifteen-chars!!" not in text


@pytest.mark.parametrize(
    "raw",
    [
        "https://app.example.com, http://localhost:3000/",
        '["https://app.example.com", "http://localhost:3000/"]',
    ],
)
def test_cors_origins_parse_from_a_comma_list_or_json_list(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    settings = _settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings.CORS_ORIGINS == ["https://app.example.com", "http://localhost:3000"]


def test_empty_cors_origins_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "")
    assert _settings(SECRET_KEY=TEST_SECRET_KEY).CORS_ORIGINS == []


def test_allowed_hosts_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "api.example.com, localhost")
    settings = _settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings.ALLOWED_HOSTS == ["api.example.com", "localhost"]


def test_allowed_hosts_default_to_localhost_names() -> None:
    settings = _settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings.ALLOWED_HOSTS == ["localhost", "127.0.0.1", "[::1]"]


def test_secret_key_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    assert _settings().SECRET_KEY.get_secret_value() == TEST_SECRET_KEY


def test_running_the_package_with_a_short_secret_key_exits_naming_it(tmp_path: Path) -> None:
    bad_value = "short"
    env = {name: value for name, value in os.environ.items() if name not in Settings.model_fields}
    env["SECRET_KEY"] = bad_value
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.project_slug }}"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert bad_value not in result.stderr
    assert bad_value not in result.stdout


# One bad value of each setting start-up checks, beyond those tested above: the refusal
# names the setting, whichever group of settings holds it.
REFUSALS: list[tuple[str, dict[str, Any]]] = [
    ("MFA_ENCRYPTION_KEY", {"MFA_ENCRYPTION_KEY": " , "}),
    ("MFA_ENCRYPTION_KEY", {"MFA_ENCRYPTION_KEY": "changeme"}),
    ("MFA_ENCRYPTION_KEY", {"MFA_ENCRYPTION_KEY": f"{'k' * 40},tooShort-Qz7"}),
    ("ENVIRONMENT", {"ENVIRONMENT": "staging"}),
    ("PORT", {"PORT": 0}),
    ("TRUSTED_PROXIES", {"TRUSTED_PROXIES": "proxy.example.com"}),
    ("COOKIE_SAMESITE", {"COOKIE_SAMESITE": "loose"}),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", {"ACCESS_TOKEN_EXPIRE_MINUTES": 0}),
    ("REFRESH_TOKEN_EXPIRE_DAYS", {"REFRESH_TOKEN_EXPIRE_DAYS": 91}),
    ("REFRESH_REUSE_GRACE_SECONDS", {"REFRESH_REUSE_GRACE_SECONDS": 61}),
    ("PASSWORD_RESET_EXPIRE_MINUTES", {"PASSWORD_RESET_EXPIRE_MINUTES": 61}),
    ("EMAIL_VERIFICATION_EXPIRE_HOURS", {"EMAIL_VERIFICATION_EXPIRE_HOURS": 0}),
    ("RATE_LIMIT_LOGIN", {"RATE_LIMIT_LOGIN": "often"}),
    ("RATE_LIMIT_REFRESH", {"RATE_LIMIT_REFRESH": "often"}),
    ("RATE_LIMIT_DEFAULT", {"RATE_LIMIT_DEFAULT": "often"}),
    ("MAX_BODY_BYTES", {"MAX_BODY_BYTES": 1023}),
    ("FIRST_ADMIN_EMAIL", {"FIRST_ADMIN_EMAIL": "admin", "FIRST_ADMIN_PASSWORD": "k" * 20}),
    ("SMTP_PORT", {"SMTP_PORT": 65536}),
    ("PURGE_INTERVAL_MINUTES", {"PURGE_INTERVAL_MINUTES": -1}),
    ("AUDIT_RETENTION_DAYS", {"AUDIT_RETENTION_DAYS": 0}),
    ("ARGON2_TIME_COST", {"ARGON2_TIME_COST": 0}),
    ("ARGON2_MEMORY_COST", {"ARGON2_MEMORY_COST": 7}),
    ("ARGON2_PARALLELISM", {"ARGON2_PARALLELISM": 0}),
    ("PASSWORD_HASH_WORKERS", {"PASSWORD_HASH_WORKERS": 65}),
    ("PASSWORD_HASH_QUEUE", {"PASSWORD_HASH_QUEUE": -1}),
    ("LOG_LEVEL", {"LOG_LEVEL": "LOUD"}),
    ("LOG_FORMAT", {"LOG_FORMAT": "xml"}),
{%- if cookiecutter.use_redis == "yes" %}
    ("REDIS_URL", {"REDIS_URL": "http://127.0.0.1:6379"}),
{%- endif %}
{%- if cookiecutter.use_sentry == "yes" %}
    ("SENTRY_DSN", {"SENTRY_DSN": "https://o1.ingest.sentry.io"}),
{%- endif %}
{%- if cookiecutter.use_opentelemetry == "yes" %}
    ("OTEL_EXPORTER_OTLP_ENDPOINT", {"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}),
{%- endif %}
]


@pytest.mark.parametrize(("name", "values"), REFUSALS, ids=[name for name, _ in REFUSALS])
def test_every_refusal_names_its_setting(name: str, values: dict[str, Any]) -> None:
    text = _refusal(SECRET_KEY=TEST_SECRET_KEY, **values)
    assert name in text
    assert "k" * 40 not in text


def _settings_from_env_file(tmp_path: Path, *lines: str) -> Settings:
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join((f"SECRET_KEY={TEST_SECRET_KEY}", *lines)) + "\n")
    return Settings(_env_file=env_file)


def test_name_in_env_file_that_is_no_setting_is_refused_naming_it(tmp_path: Path) -> None:
    # A misspelt name would otherwise leave the setting at its default, unnoticed.
    with pytest.raises(ValidationError) as caught:
        _settings_from_env_file(tmp_path, "ACCES_TOKEN_EXPIRE_MINUTES=600", "LOG_FORMAT=console")
    text = str(caught.value)
    assert "ACCES_TOKEN_EXPIRE_MINUTES in .env: not a setting of this project" in text
    assert "600" not in text
    assert TEST_SECRET_KEY not in text


def test_empty_line_in_env_file_for_a_name_that_is_no_setting_is_accepted(
    tmp_path: Path,
) -> None:
    settings = _settings_from_env_file(tmp_path, "RETIRED_SETTING=", "LOG_FORMAT=console")
    assert settings.LOG_FORMAT == "console"


def test_other_programs_variables_in_the_environment_are_not_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOME_OTHER_PROGRAM_SETTING", "on")
    assert _settings(SECRET_KEY=TEST_SECRET_KEY).LOG_FORMAT == "json"
{%- if cookiecutter.database == "postgresql" and cookiecutter.use_docker == "yes" %}


def test_database_password_for_docker_compose_in_env_file_is_accepted(tmp_path: Path) -> None:
    # docker compose reads POSTGRES_PASSWORD from the same .env for the db service.
    settings = _settings_from_env_file(tmp_path, "POSTGRES_PASSWORD=k7Qz9mW2pL4xR8vN")
    assert settings.is_sqlite is False
{%- endif %}
