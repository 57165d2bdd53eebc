"""Alembic environment: async engines, the app's own models and settings.

`alembic upgrade head` reads DATABASE_URL from the settings; `migrate()` in
`..migrate` passes an open connection instead (start-up and tests).
"""

import asyncio
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
{%- if cookiecutter.database == "sqlite" %}
from alembic.util import CommandError
from sqlalchemy.engine import Connection, make_url
{%- else %}
from sqlalchemy.engine import Connection
{%- endif %}

from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.db import UTCDateTime, create_engine
from {{ cookiecutter.project_slug }}.models import Base

target_metadata = Base.metadata


def render_item(type_: str, obj: object, _context: AutogenContext) -> str | Literal[False]:
    # Migrations stand alone: they must not import the app's column types.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


{%- if cookiecutter.database == "sqlite" %}


def announce_new_database(url: str) -> None:
    """Say so when SQLite is about to create the database file, and refuse a file whose
    directory is missing: both usually mean DATABASE_URL is not the one meant."""
    database = make_url(url).database
    if not database or database == ":memory:" or Path(database).exists():
        return
    path = Path(database).resolve()
    if not path.parent.is_dir():
        raise CommandError(
            f"DATABASE_URL names a SQLite file in {path.parent}, which does not exist: "
            "create the directory or correct DATABASE_URL"
        )
    context.config.print_stdout("Creating a new SQLite database at %s (DATABASE_URL)", path)
{%- endif %}


async def run_online() -> None:
{%- if cookiecutter.database == "sqlite" %}
    announce_new_database(get_settings().DATABASE_URL)
{%- endif %}
    engine = create_engine(get_settings().DATABASE_URL)
    async with engine.connect() as connection:
        await connection.run_sync(run_with_connection)
    await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=get_settings().DATABASE_URL,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_with_connection(connection)
elif context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
