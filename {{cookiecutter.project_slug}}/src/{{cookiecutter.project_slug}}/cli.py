"""Command line: `{{ cookiecutter.project_slug }} serve` (the default) and `{{ cookiecutter.project_slug }} create-user`."""

import argparse
import asyncio
import getpass
import sys

import uvicorn
from pydantic import ValidationError

from .config import Settings, get_settings
from .errors import ConflictError
from .factory import create_services
from .migrate import migrate
from .security.scopes import Role
from .users.schemas import UserCreate
from .users.service import create_user


def serve(settings: Settings) -> None:
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


async def _create_user(settings: Settings, data: UserCreate, role: Role) -> str:
    services = create_services(settings)
    try:
        if settings.is_sqlite:
            await migrate(services.engine)
        async with services.sessionmaker() as session:
            user = await create_user(session, services.hasher, data, role=role, email_verified=True)
        return str(user.id)
    finally:
        await services.engine.dispose()
        services.hasher.close()


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
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    print(f"created {args.role} {data.username} ({user_id})")
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
    if args.command == "create-user":
        return create_user_command(args, settings)
    serve(settings)
    return 0
