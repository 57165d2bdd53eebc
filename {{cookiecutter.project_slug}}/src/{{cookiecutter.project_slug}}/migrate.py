"""Running the Alembic migrations from Python, and checking a schema before it is used."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

UPGRADE_HINT = "run `alembic upgrade head` (or `make migrate`) first"


class DatabaseNotReadyError(Exception):
    """The database cannot be used: it does not answer, or its schema is not the one
    this code needs. The message is one line that names the fix."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", f"{__package__}:migrations")
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _current_revisions(connection: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(connection).get_current_heads()


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _sqlite_directory_missing(engine: AsyncEngine) -> bool:
    database = engine.url.database
    return (
        engine.url.get_backend_name() == "sqlite"
        and bool(database)
        and database != ":memory:"
        and not Path(str(database)).parent.is_dir()
    )


async def prepare_schema(engine: AsyncEngine, *, migrate_now: bool) -> None:
    """Make the schema ready before anything queries it, else raise DatabaseNotReadyError.

    With `migrate_now` (SQLite, whose file nothing else would migrate) an older schema is
    brought up to date; otherwise (a server database, migrated as a deployment step) it
    must already be at the newest revision. Either way a revision this code does not
    know, written by a newer version, stops here rather than at the first query.
    """
    if _sqlite_directory_missing(engine):
        # SQLite would say the same, but from a driver thread that can outlive the event
        # loop and print its own traceback after ours.
        raise DatabaseNotReadyError(
            "cannot use the database at DATABASE_URL: unable to open database file"
        )
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_revisions)
    except (OSError, DBAPIError) as exc:
        # The driver's own words (no URL, so no password), without SQLAlchemy's wrapping.
        reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
        first_line = reason.splitlines()[0] if reason else type(exc).__name__
        raise DatabaseNotReadyError(
            f"cannot use the database at DATABASE_URL: {first_line}"
        ) from exc
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if current == (head,):
        return
    unknown = [revision for revision in current if not _is_known(script, revision)]
    if unknown:
        raise DatabaseNotReadyError(
            f"the database schema is at revision {', '.join(unknown)}, which this code does "
            "not know (a newer version migrated it); run that version, or downgrade the "
            "database with that version's `alembic downgrade`"
        )
    if migrate_now:
        await migrate(engine)
        return
    if not current:
        raise DatabaseNotReadyError(f"the database has no schema yet: {UPGRADE_HINT}")
    raise DatabaseNotReadyError(
        f"the database schema is at revision {', '.join(current)}, this code needs {head}: "
        + UPGRADE_HINT
    )
