"""The servers a `postgresql` + `use_redis=yes` render needs: a PostgreSQL database of
the benchmark's own (and, for a tenancy render, a role without BYPASSRLS to serve it
as), and a private Redis on a free loopback port.

Both are made for one run and removed after it, whatever happened in between.
"""

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tooling.served import LOOPBACK, accepts_connections, free_port

START_TIMEOUT = 10.0
# Run with the benchmark venv's Python, which has asyncpg (the production render's
# driver): one statement on the server's maintenance database.
_EXECUTE = (
    "import asyncio, sys, asyncpg\n"
    "async def main():\n"
    "    connection = await asyncpg.connect(sys.argv[1])\n"
    "    try:\n"
    "        await connection.execute(sys.argv[2])\n"
    "    finally:\n"
    "        await connection.close()\n"
    "asyncio.run(main())\n"
)


def _execute(python: Path, admin_url: str, statement: str) -> None:
    subprocess.run(  # noqa: S603 - fixed command, no shell
        [str(python), "-c", _EXECUTE, admin_url, statement],
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextmanager
def postgresql_database(python: Path, admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`; yields its SQLAlchemy URL."""
    name = f"secure_api_bench_{secrets.token_hex(4)}"
    _execute(python, admin_url, f"CREATE DATABASE {name}")
    server = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{server}/{name}"
    finally:
        _execute(python, admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def app_role(python: Path, admin_url: str, database_url: str) -> Iterator[str]:
    """A login role on the server of `admin_url` that is no superuser and has no
    BYPASSRLS, allowed to read and write the tables of the (migrated) database of
    `database_url`, so that PostgreSQL applies the row-level security policies to it;
    yields the database's SQLAlchemy URL as that role."""
    role = f"secure_api_bench_app_{secrets.token_hex(4)}"
    database = urlsplit(database_url)
    owner_url = urlunsplit(database._replace(scheme="postgresql"))
    server = database.netloc.rsplit("@", 1)[-1]
    _execute(python, admin_url, f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
    try:
        _execute(
            python,
            owner_url,
            f"GRANT USAGE ON SCHEMA public TO {role}; "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; "
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        )
        yield urlunsplit(database._replace(netloc=f"{role}@{server}"))
    finally:
        _execute(python, owner_url, f"DROP OWNED BY {role}")
        _execute(python, admin_url, f"DROP ROLE IF EXISTS {role}")


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server, nothing persisted; yields its URL, to which a caller adds
    `/<database number>`."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not on PATH (Debian: apt-get install redis-server)")
    port = free_port()
    command = [executable, "--bind", LOOPBACK, "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(  # noqa: S603 - the path from shutil.which, our arguments
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not accepts_connections(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://{LOOPBACK}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
