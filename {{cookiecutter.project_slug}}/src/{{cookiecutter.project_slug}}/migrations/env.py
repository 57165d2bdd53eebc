"""Alembic environment: async engines, the app's own models and settings.

`alembic upgrade head` reads DATABASE_URL from the settings; `migrate()` in
`..migrate` passes an open connection instead (start-up and tests).
"""

import asyncio
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

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


async def run_online() -> None:
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
