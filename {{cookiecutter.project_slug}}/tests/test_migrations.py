"""The migrations build exactly the schema the models describe, and can be undone."""

{% if cookiecutter.database == "postgresql" -%}
import uuid
{% endif -%}
from collections.abc import AsyncIterator
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
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

from {{ cookiecutter.project_slug }}.db import create_engine
from {{ cookiecutter.project_slug }}.migrate import alembic_config, migrate
from {{ cookiecutter.project_slug }}.models import Base
{%- if cookiecutter.database == "postgresql" %}

from .conftest import SERVER_URL, _run_on_server
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
        await connection.exec_driver_sql("DROP TABLE items")
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert ("add_table", "items") in [(kind, table.name) for kind, table, *_ in differences]
