"""Command line: `{{ cookiecutter.project_slug }} serve` (the default), `create-user`, `set-role`, `purge` and
`rotate-mfa-key`."""

import argparse
import asyncio
import getpass
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from pydantic import ValidationError

from .admin.service import admin_update
from .config import Settings, get_settings
from .db import create_engine
from .errors import ConflictError
from .factory import create_services
from .mfa.service import reencrypt_secrets
from .migrate import DatabaseNotReadyError, prepare_schema
from .purge import purge_expired
{%- if cookiecutter.use_redis == "yes" %}
from .security.principal_cache import AuthStateUnavailableError
{%- endif %}
from .security.scopes import Role
from .services import Services
from .users.schemas import AdminUserUpdate, UserCreate
from .users.service import create_user, find_by_login


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line to print."""


@asynccontextmanager
async def _services(settings: Settings) -> AsyncIterator[Services]:
    """The app's services, on a schema that is ready: migrated on SQLite, else checked."""
    services = create_services(settings)
    try:
        await prepare_schema(services.engine, migrate_now=settings.is_sqlite)
        yield services
    finally:
        await services.engine.dispose()
        await services.principals.versions.close()
        services.hasher.close()


async def _prepare_schema(settings: Settings) -> None:
    engine = create_engine(settings.DATABASE_URL)
    try:
        await prepare_schema(engine, migrate_now=settings.is_sqlite)
    finally:
        await engine.dispose()


def serve_command(_args: argparse.Namespace, settings: Settings) -> int:
    # Checked here as well as in the lifespan: uvicorn would report a failing lifespan
    # with a traceback, where one line says what to do.
    asyncio.run(_prepare_schema(settings))
    uvicorn.run(
        "{{ cookiecutter.project_slug }}.main:app",
        host=settings.HOST,
        port=settings.PORT,
        # The app believes X-Forwarded-* from TRUSTED_PROXIES only; uvicorn's own
        # handling would believe it from 127.0.0.1 whatever the settings say.
        proxy_headers=False,
        server_header=False,
        # main.py configures logging; uvicorn's access line is replaced by the app's.
        log_config=None,
        access_log=False,
    )
    return 0


async def _create_user(settings: Settings, data: UserCreate, role: Role) -> str:
    async with _services(settings) as services, services.sessionmaker() as session:
        user = await create_user(session, services.hasher, data, role=role, email_verified=True)
        return str(user.id)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Repeat password: "):
        raise SystemExit("error: the passwords do not match")
    return password


def create_user_command(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args.password_stdin)
    try:
        data = UserCreate(
            username=args.username, email=args.email, password=password, full_name=args.full_name
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "password"
            print(f"error: {field}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        user_id = asyncio.run(_create_user(settings, data, Role(args.role)))
    except ConflictError as exc:
        raise CommandError(exc.detail) from exc
    print(f"created {args.role} {data.username} ({user_id})")
    return 0


async def _set_role(settings: Settings, login: str, role: Role) -> str:
    async with _services(settings) as services, services.sessionmaker() as session:
        user = await find_by_login(session, login)
        if user is None:
            raise CommandError(f"no user has the username or email {login!r}")
        before = f"{'an active' if user.is_active else 'an inactive'} {user.role}"
{%- if cookiecutter.use_redis == "yes" %}
        # Active too: this is how an admin gets back in after a lockout. admin_update
        # commits through the principal cache: with REDIS_URL every worker drops its
        # cached entry at once; without, a running server's cache holds it a while
        # (security/principal_cache.CACHE_SECONDS).
{%- else %}
        # Active too: this is how an admin gets back in after a lockout. A running
        # server's cache holds the user a while (security/principal_cache.CACHE_SECONDS).
{%- endif %}
        # No actor: the command line acts as no user.
        try:
            user = await admin_update(
                session,
                services.principals,
                None,
                user.id,
                AdminUserUpdate(role=role, is_active=True),
            )
        except ConflictError as exc:
            raise CommandError(exc.detail) from exc
{%- if cookiecutter.use_redis == "yes" %}
        except AuthStateUnavailableError as exc:
            raise CommandError("REDIS_URL did not answer; nothing was changed") from exc
{%- endif %}
    return f"{user.username} is now an active {user.role} (was {before})"


def set_role_command(args: argparse.Namespace, settings: Settings) -> int:
    print(asyncio.run(_set_role(settings, args.username, Role(args.role))))
    return 0


async def _purge(settings: Settings) -> dict[str, int]:
    async with _services(settings) as services:
        return await purge_expired(services.engine, settings)


def purge_command(_args: argparse.Namespace, settings: Settings) -> int:
    for table, count in asyncio.run(_purge(settings)).items():
        print(f"{table} {count}")
    return 0


async def _rotate_mfa_key(settings: Settings) -> tuple[int, list[uuid.UUID]]:
    async with _services(settings) as services, services.sessionmaker() as session:
        return await reencrypt_secrets(session, services.totp_secrets)


def rotate_mfa_key_command(_args: argparse.Namespace, settings: Settings) -> int:
    done, unreadable = asyncio.run(_rotate_mfa_key(settings))
    print(f"TOTP secrets re-encrypted under the first key of MFA_ENCRYPTION_KEY: {done}")
    if unreadable:
        users = ", ".join(str(user_id) for user_id in unreadable)
        raise CommandError(
            f"no key of MFA_ENCRYPTION_KEY opens the TOTP secret of these users: {users}; "
            "list their old key again, or reset their two-factor authentication"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the API with uvicorn (HOST, PORT from settings)")
    create = commands.add_parser("create-user", help="create a user of any role")
    create.add_argument("--username", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--full-name")
    create.add_argument("--role", choices=[role.value for role in Role], default=Role.USER.value)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )
    set_role = commands.add_parser(
        "set-role", help="give an existing user a role, and make the account active"
    )
    set_role.add_argument("--username", required=True, help="the username or email address")
    set_role.add_argument("--role", choices=[role.value for role in Role], required=True)
    commands.add_parser(
        "purge",
        help="delete expired sessions, links, old API keys and audit events now; print the counts",
    )
    commands.add_parser(
        "rotate-mfa-key",
        help="encrypt every TOTP secret under the first key of MFA_ENCRYPTION_KEY, so the "
        "keys after it can be dropped",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            print(f"error: setting {name}: {error['msg']}", file=sys.stderr)
        return 2
    commands = {
        "serve": serve_command,
        "create-user": create_user_command,
        "set-role": set_role_command,
        "purge": purge_command,
        "rotate-mfa-key": rotate_mfa_key_command,
    }
    try:
        return commands[args.command or "serve"](args, settings)
    except (CommandError, DatabaseNotReadyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
