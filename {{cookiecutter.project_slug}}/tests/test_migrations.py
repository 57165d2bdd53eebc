"""The migrations build exactly the schema the models describe, and can be undone."""

{% if cookiecutter.database == "postgresql" -%}
import uuid
{% endif -%}
{% if cookiecutter.database == "sqlite" -%}
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
{%- else -%}
from collections.abc import AsyncIterator
{%- endif %}
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

{% if cookiecutter.database == "sqlite" -%}
from {{ cookiecutter.project_slug }}.config import Settings
{% endif -%}
from {{ cookiecutter.project_slug }}.db import create_engine
from {{ cookiecutter.project_slug }}.migrate import alembic_config, migrate
from {{ cookiecutter.project_slug }}.models import Base
{%- if cookiecutter.database == "postgresql" %}

from .conftest import SERVER_URL, _run_on_server
{%- else %}

from .conftest import TEST_SECRET_KEY

# alembic.ini's directory: `alembic` runs from there.
PROJECT = Path(__file__).resolve().parents[1]
{%- endif %}

MODEL_TABLES = {
    "users",
    "user_sessions",
    "refresh_tokens",
    "items",
    "action_tokens",
    "api_keys",
    "totp_secrets",
    "recovery_codes",
    "audit_events",
{%- if cookiecutter.passkeys == "yes" %}
    "passkeys",
    "passkey_challenges",
{%- endif %}
{%- if cookiecutter.multi_tenancy == "yes" %}
    "organizations",
    "memberships",
    "invitations",
{%- endif %}
}


@pytest.fixture
{%- if cookiecutter.database == "postgresql" %}
async def engine() -> AsyncIterator[AsyncEngine]:
    """A database of its own, empty: not the suite's shared, already migrated one."""
    name = f"{{ cookiecutter.project_slug }}_migrations_{uuid.uuid4().hex[:12]}"
    await _run_on_server(f'CREATE DATABASE "{name}"')
    fresh = create_engine(SERVER_URL.rsplit("/", 1)[0] + f"/{name}")
    yield fresh
    await fresh.dispose()
    await _run_on_server(f'DROP DATABASE "{name}" WITH (FORCE)')
{%- else %}
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A fresh SQLite file: not the suite's shared, already migrated one."""
    fresh = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    yield fresh
    await fresh.dispose()
{%- endif %}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences: list[Any] = compare_metadata(context, Base.metadata)
    return differences


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _run(connection: Connection, operation: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, operation)(config, revision)


def test_models_register_every_table() -> None:
    assert set(Base.metadata.tables) == MODEL_TABLES


def test_migrations_have_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


async def test_migrate_brings_a_fresh_database_to_head(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_current_revision) == _head()
        assert await connection.run_sync(_tables) == MODEL_TABLES


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_migrate_twice_is_a_no_op(engine: AsyncEngine) -> None:
    await migrate(engine)
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_current_revision) == _head()
        assert await connection.run_sync(_differences) == []


async def test_downgrade_to_base_and_upgrade_again_restores_the_schema(
    engine: AsyncEngine,
) -> None:
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.run_sync(_run, "downgrade", "base")
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()
        assert await connection.run_sync(_current_revision) is None
    async with engine.begin() as connection:
        await connection.run_sync(_run, "upgrade", "head")
    async with engine.connect() as connection:
        assert await connection.run_sync(_current_revision) == _head()
        assert await connection.run_sync(_tables) == MODEL_TABLES
        assert await connection.run_sync(_differences) == []


async def test_schema_comparison_notices_a_missing_table(engine: AsyncEngine) -> None:
    # Guards the test above against passing vacuously.
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE api_keys")
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert ("add_table", "api_keys") in [(kind, table.name) for kind, table, *_ in differences]
{%- if cookiecutter.multi_tenancy == "no" %}


async def test_items_migration_keeps_the_table_an_older_release_created(
    engine: AsyncEngine,
) -> None:
    def create_items_as_0001_did(connection: Connection) -> None:
        # Before 0.4.0, 0001 made `items`: such a database is at 0005 with the table.
        users, items = Base.metadata.tables["users"], Base.metadata.tables["items"]
        items.create(connection)
        owner = connection.execute(
            users.insert()
            .values(username="owner", email="owner@example.com", hashed_password="x")
            .returning(users.c.id)
        ).scalar_one()
        connection.execute(items.insert().values(title="kept", owner_id=owner))

    async with engine.begin() as connection:
        await connection.run_sync(_run, "upgrade", "0005")
        await connection.run_sync(create_items_as_0001_did)
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_current_revision) == _head()
        titles = await connection.exec_driver_sql("SELECT title FROM items")
        assert titles.scalars().all() == ["kept"]
        assert await connection.run_sync(_differences) == []
{%- endif %}
{%- if cookiecutter.database == "sqlite" %}


def _alembic_upgrade(database: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`alembic upgrade head` as a user runs it: a process of its own, settings from the
    environment (no `.env` in `workdir` to read instead)."""
    environment = {
        name: value for name, value in os.environ.items() if name not in Settings.model_fields
    }
    environment |= {
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
    }
    command = [sys.executable, "-m", "alembic", "-c", str(PROJECT / "alembic.ini")]
    return subprocess.run(  # noqa: S603 - fixed command, no shell
        [*command, "upgrade", "head"],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_alembic_upgrade_says_when_it_creates_the_database(tmp_path: Path) -> None:
    database = tmp_path / "new.db"
    created = _alembic_upgrade(database, tmp_path)
    again = _alembic_upgrade(database, tmp_path)

    assert (created.returncode, again.returncode) == (0, 0), created.stderr + again.stderr
    assert created.stdout == f"Creating a new SQLite database at {database} (DATABASE_URL)\n"
    assert again.stdout == ""
    assert database.is_file()


def test_alembic_upgrade_refuses_a_database_in_a_missing_directory(tmp_path: Path) -> None:
    refused = _alembic_upgrade(tmp_path / "missing" / "app.db", tmp_path)

    assert refused.returncode != 0
    assert refused.stdout == (
        f"FAILED: DATABASE_URL names a SQLite file in {tmp_path / 'missing'}, which does not "
        "exist: create the directory or correct DATABASE_URL\n"
    )
    assert not (tmp_path / "missing").exists()
{%- endif %}
