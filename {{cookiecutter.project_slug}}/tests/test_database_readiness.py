"""A database the code cannot use stops start-up and every command with one line naming
the fix: no traceback, a non-zero exit."""

import asyncio
import subprocess
import sys
{%- if cookiecutter.database == "postgresql" %}
import uuid
from collections.abc import Iterator
{%- endif %}
from pathlib import Path

import pytest
{%- if cookiecutter.database == "postgresql" %}
from alembic.script import ScriptDirectory
{%- endif %}

from {{ cookiecutter.project_slug }}.db import create_engine
from {{ cookiecutter.project_slug }}.factory import create_app
{%- if cookiecutter.database == "postgresql" %}
from {{ cookiecutter.project_slug }}.migrate import DatabaseNotReadyError, alembic_config

from .conftest import PASSWORD, SERVER_URL, _run_on_server, free_port, make_settings
{%- else %}
from {{ cookiecutter.project_slug }}.migrate import DatabaseNotReadyError

from .conftest import PASSWORD, free_port, make_settings
{%- endif %}
from .processes import app_environment

UPGRADE_HINT = "run `alembic upgrade head` (or `make migrate`) first"
UNKNOWN_REVISION = "f00dfeedbeef"
COMMANDS = {
    "serve": [],
    "create-user": [
        *("create-user", "--username", "alice", "--email", "alice@example.com"),
        "--password-stdin",
    ],
    "set-role": ["set-role", "--username", "alice", "--role", "admin"],
    "purge": ["purge"],
}


def _run_command(
    workdir: Path, database_url: str, command: str
) -> subprocess.CompletedProcess[str]:
    """`python -m {{ cookiecutter.project_slug }} <command>`, as an operator would type it."""
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "{{ cookiecutter.project_slug }}", *COMMANDS[command]],
        cwd=workdir,
        env=app_environment(database_url, PORT=str(free_port())),
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _stamp(database_url: str, revision: str) -> None:
    """Record `revision` as the schema's, the way Alembic does, and nothing else."""

    async def stamp() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"
            )
            await connection.exec_driver_sql(
                f"INSERT INTO alembic_version VALUES ('{revision}')"  # noqa: S608 (a constant)
            )
        await engine.dispose()

    asyncio.run(stamp())
{%- if cookiecutter.database == "postgresql" %}


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database that exists on the server but was never migrated."""
    name = f"{{ cookiecutter.project_slug }}_unmigrated_{uuid.uuid4().hex[:12]}"
    asyncio.run(_run_on_server(f'CREATE DATABASE "{name}"'))
    yield SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_run_on_server(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.mark.parametrize("command", COMMANDS)
def test_unmigrated_database_stops_each_command_with_one_line(
    empty_database: str, tmp_path: Path, command: str
) -> None:
    result = _run_command(tmp_path, empty_database, command)
    assert result.returncode == 1
    assert result.stderr == f"error: the database has no schema yet: {UPGRADE_HINT}\n"
    assert result.stdout == ""


async def test_app_on_an_unmigrated_database_does_not_start(empty_database: str) -> None:
    """Plain `uvicorn` runs the lifespan: it reports this error and exits with status 3."""
    app = create_app(make_settings(empty_database))
    with pytest.raises(DatabaseNotReadyError) as raised:
        async with app.router.lifespan_context(app):
            pass
    assert str(raised.value) == f"the database has no schema yet: {UPGRADE_HINT}"


async def test_app_on_an_older_schema_does_not_start(empty_database: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    (base,) = script.get_bases()
    await asyncio.to_thread(_stamp, empty_database, base)
    app = create_app(make_settings(empty_database))
    with pytest.raises(DatabaseNotReadyError) as raised:
        async with app.router.lifespan_context(app):
            pass
    assert str(raised.value) == (
        f"the database schema is at revision {base}, this code needs "
        f"{script.get_current_head()}: {UPGRADE_HINT}"
    )


def test_missing_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    missing = SERVER_URL.rsplit("/", 1)[0] + "/{{ cookiecutter.project_slug }}_no_such_database"
    result = _run_command(tmp_path, missing, "serve")
    assert result.returncode == 1
    assert result.stderr == (
        "error: cannot use the database at DATABASE_URL: "
        'database "{{ cookiecutter.project_slug }}_no_such_database" does not exist\n'
    )


@pytest.fixture
def database_of_a_newer_version(empty_database: str) -> str:
    _stamp(empty_database, UNKNOWN_REVISION)
    return empty_database
{%- else %}


def test_sqlite_file_without_a_schema_is_migrated_on_start_up(tmp_path: Path) -> None:
    result = _run_command(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", "purge")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "refresh_tokens 0\nuser_sessions 0\naction_tokens 0\napi_keys 0\naudit_events 0\n"
{%- if cookiecutter.passkeys == "yes" %}
        "passkey_challenges 0\n"
{%- endif %}
    )


def test_unreachable_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'directory.db'}"
    result = _run_command(tmp_path, url, "serve")
    assert result.returncode == 1
    assert result.stderr == (
        "error: cannot use the database at DATABASE_URL: unable to open database file\n"
    )


@pytest.fixture
def database_of_a_newer_version(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'newer.db'}"
    _stamp(url, UNKNOWN_REVISION)
    return url
{%- endif %}


def test_schema_of_a_newer_version_stops_start_up_with_one_line(
    database_of_a_newer_version: str, tmp_path: Path
) -> None:
    result = _run_command(tmp_path, database_of_a_newer_version, "serve")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: the database schema is at revision {UNKNOWN_REVISION}, which this code does "
        "not know (a newer version migrated it); run that version, or downgrade the database "
        "with that version's `alembic downgrade`\n"
    )
    assert "Traceback" not in result.stdout


async def test_app_on_a_schema_of_a_newer_version_does_not_start(
    database_of_a_newer_version: str,
) -> None:
    app = create_app(make_settings(database_of_a_newer_version))
    with pytest.raises(DatabaseNotReadyError, match=f"at revision {UNKNOWN_REVISION}, which"):
        async with app.router.lifespan_context(app):
            pass
