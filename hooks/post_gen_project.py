"""Finish a render: write .env with fresh secrets, drop unchosen files, lock, record the
template for cruft, say what next.

Secrets are generated here, never asked for: cookiecutter saves every answer in
its replay file (~/.cookiecutter_replay), and cruft in .cruft.json, so nothing secret
may be an answer. This script runs inside the new project directory and never prints a
secret. Answers arrive as in pre_gen_project.py: JSON inside a raw single-quoted literal.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from cookiecutter.config import BUILTIN_ABBREVIATIONS
from cookiecutter.repository import expand_abbreviations, is_repo_url

# fmt: off
PROJECT_SLUG: str = json.loads(r'''{{ cookiecutter.project_slug | tojson }}''')
DATABASE: str = json.loads(r'''{{ cookiecutter.database | tojson }}''')
USE_DOCKER: str = json.loads(r'''{{ cookiecutter.use_docker | tojson }}''')
USE_REDIS: str = json.loads(r'''{{ cookiecutter.use_redis | tojson }}''')
JWT_LIBRARY: str = json.loads(r'''{{ cookiecutter.jwt_library | tojson }}''')
USE_SENTRY: str = json.loads(r'''{{ cookiecutter.use_sentry | tojson }}''')
USE_OPENTELEMETRY: str = json.loads(r'''{{ cookiecutter.use_opentelemetry | tojson }}''')
PASSKEYS: str = json.loads(r'''{{ cookiecutter.passkeys | tojson }}''')
MULTI_TENANCY: str = json.loads(r'''{{ cookiecutter.multi_tenancy | tojson }}''')
# Every answer, and what cookiecutter adds: `_template` (as the user gave it), `_repo_dir`
# (where it was read: the path, or cookiecutter's clone of a URL), `_checkout`. Under
# cruft, `_commit` too.
CONTEXT: dict[str, Any] = json.loads(r'''{{ cookiecutter | tojson }}''')
# fmt: on

ENV_EXAMPLE = Path(".env.example")
ENV_FILE = Path(".env")
DOCKER_FILES = (Path("Dockerfile"), Path("compose.yaml"), Path(".dockerignore"))
REDIS_FILES = (
    Path("src") / PROJECT_SLUG / "redis_state.py",
    Path("src") / PROJECT_SLUG / "redis_feed.py",
    Path("src") / PROJECT_SLUG / "redis_counts.py",
    Path("tests") / "redis_server.py",
    Path("tests") / "test_redis_outage.py",
    Path("tests") / "test_workers.py",
)
SENTRY_FILES = (Path("src") / PROJECT_SLUG / "sentry.py", Path("tests") / "test_sentry.py")
TRACING_FILES = (Path("src") / PROJECT_SLUG / "tracing.py", Path("tests") / "test_tracing.py")
PASSKEY_FILES = (
    Path("src") / PROJECT_SLUG / "passkeys",
    Path("src") / PROJECT_SLUG / "account" / "passkeys_router.py",
    Path("src") / PROJECT_SLUG / "auth" / "passkey_login.py",
    Path("src") / PROJECT_SLUG / "auth" / "passkey_router.py",
    Path("src") / PROJECT_SLUG / "migrations" / "versions" / "0005b_passkeys.py",
    Path("tests") / "authenticator.py",
    Path("tests") / "passkeys.py",
    Path("tests") / "test_passkeys_login.py",
    Path("tests") / "test_passkeys_registration.py",
    Path("docs") / "passkeys.md",
)
TENANCY_PACKAGES = (
    Path("src") / PROJECT_SLUG / "tenancy",
    Path("src") / PROJECT_SLUG / "organizations",
)
TENANCY_FILES = (
    Path("src") / PROJECT_SLUG / "migrations" / "versions" / "0005a_organizations.py",
    Path("tests") / "organizations.py",
    Path("tests") / "test_organizations.py",
    Path("tests") / "test_invitations.py",
    Path("tests") / "test_tenant_isolation.py",
    Path("docs") / "organizations.md",
)
# How a passkey login binds an organization, in a render with both.
PASSKEY_ORGANIZATIONS_TEST = Path("tests") / "test_passkey_organizations.py"
# PostgreSQL's row-level security, in a render with organizations on PostgreSQL.
ROW_SECURITY_FILES = (
    Path("src") / PROJECT_SLUG / "tenancy" / "row_security.py",
    Path("tests") / "test_row_security.py",
    Path("tests") / "test_row_security_shared.py",
)
# The page on error reports and traces, for either observability option.
OBSERVABILITY_PAGE = Path("docs") / "observability.md"
# The python-jose module is in place; the PyJWT one replaces it when chosen.
JWT_MODULE = Path("src") / PROJECT_SLUG / "security" / "jwt_library.py"
PYJWT_MODULE = JWT_MODULE.with_name("jwt_library_pyjwt.py")

# `uv lock` asks the package index for every dependency: a render waits this long at most.
LOCK_TIMEOUT_SECONDS = 60

CRUFT_FILE = Path(".cruft.json")
GIT_TIMEOUT_SECONDS = 10

# Written after the example's lines when the example has no line of their own.
SECRET_COMMENTS = {
    "POSTGRES_PASSWORD": "# Password of the db service in compose.yaml (read by docker compose).",
}


def generate_secrets() -> dict[str, str]:
    """Fresh random values for every secret setting this render needs."""
    values = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DOCS_PASSWORD": secrets.token_urlsafe(24),
        "FIRST_ADMIN_PASSWORD": secrets.token_urlsafe(24),
    }
    if DATABASE == "postgresql" and USE_DOCKER == "yes":
        values["POSTGRES_PASSWORD"] = secrets.token_urlsafe(24)
    return values


def fill_secrets(example: str, values: dict[str, str]) -> str:
    """Return `example` with each `NAME=...` line of a secret set to its value.

    A secret the example has no line for is appended, so every secret is in the
    result exactly once.
    """
    lines = example.splitlines()
    missing = dict(values)
    for index, line in enumerate(lines):
        name, separator, _ = line.partition("=")
        if separator and name.strip() in missing:
            lines[index] = f"{name.strip()}={missing.pop(name.strip())}"
    for name, value in missing.items():
        lines.extend(["", SECRET_COMMENTS.get(name, f"# {name}, generated."), f"{name}={value}"])
    return "\n".join(lines) + "\n"


def write_env_file() -> bool:
    """Create .env (mode 0600) from .env.example; keep a .env that already exists.

    O_EXCL makes creation atomic: the file is born with mode 0600, so its secrets
    are never readable by others, and an existing .env (a re-render with -f) is
    never overwritten. Returns whether a new .env was written.
    """
    content = fill_secrets(ENV_EXAMPLE.read_text(encoding="utf-8"), generate_secrets())
    try:
        descriptor = os.open(ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as env_file:
        env_file.write(content)
    return True


def remove_docker_files() -> None:
    """Drop the container files when Docker was not chosen."""
    if USE_DOCKER == "no":
        for path in DOCKER_FILES:
            path.unlink(missing_ok=True)


def remove_redis_files() -> None:
    """Drop the Redis-backed auth state when Redis was not chosen."""
    if USE_REDIS == "no":
        for path in REDIS_FILES:
            path.unlink(missing_ok=True)


def remove_sentry_files() -> None:
    """Drop the error reports to Sentry when they were not chosen."""
    if USE_SENTRY == "no":
        for path in SENTRY_FILES:
            path.unlink(missing_ok=True)


def remove_tracing_files() -> None:
    """Drop the OpenTelemetry tracing when it was not chosen."""
    if USE_OPENTELEMETRY == "no":
        for path in TRACING_FILES:
            path.unlink(missing_ok=True)


def remove_tenancy_files() -> None:
    """Drop organizations and everything tenant-owned when multi-tenancy was not chosen,
    and row-level security when the database has none."""
    if MULTI_TENANCY == "no":
        for package in TENANCY_PACKAGES:
            shutil.rmtree(package, ignore_errors=True)
        for path in TENANCY_FILES:
            path.unlink(missing_ok=True)
    if MULTI_TENANCY == "no" or DATABASE != "postgresql":
        for path in ROW_SECURITY_FILES:
            path.unlink(missing_ok=True)


def remove_observability_page() -> None:
    """Drop the page on error reports and traces when neither Sentry nor tracing was chosen."""
    if USE_SENTRY == "no" and USE_OPENTELEMETRY == "no":
        OBSERVABILITY_PAGE.unlink(missing_ok=True)


def remove_passkey_files() -> None:
    """Drop passkeys (WebAuthn) when they were not chosen."""
    if PASSKEYS == "no":
        for path in PASSKEY_FILES:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    if PASSKEYS == "no" or MULTI_TENANCY == "no":
        PASSKEY_ORGANIZATIONS_TEST.unlink()


def select_jwt_library() -> None:
    """Keep one JWT module: the PyJWT one takes the place of python-jose's when chosen."""
    if JWT_LIBRARY == "pyjwt":
        PYJWT_MODULE.replace(JWT_MODULE)
    else:
        PYJWT_MODULE.unlink(missing_ok=True)


def write_uv_lock() -> str:
    """Pin every dependency in uv.lock when uv is on PATH and the index answers.

    Never fails the render: without uv, or without the index, the project works with
    pip as before and `uv lock` can be run later. Returns one line saying which it was.
    """
    uv = shutil.which("uv")
    if uv is None:
        return "uv.lock was not made: uv is not on PATH (pip works too; `uv lock` makes it later)."
    try:
        completed = subprocess.run(  # noqa: S603 - uv found on PATH, fixed arguments
            [uv, "lock"],
            capture_output=True,
            text=True,
            timeout=LOCK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return (
            f"uv.lock was not made: `uv lock` took over {LOCK_TIMEOUT_SECONDS} s "
            "(is the package index reachable?); run `uv lock` later."
        )
    if completed.returncode != 0:
        reason = next((line for line in completed.stderr.splitlines() if line.strip()), "")
        return f"uv.lock was not made: `uv lock` failed ({reason.strip()[:200]}); run it later."
    return "uv.lock pins every dependency: `uv sync --locked` installs exactly those versions."


def template_checkout(repo_dir: Path) -> str | None:
    """The commit checked out at `repo_dir`, if it is the top of a git work tree.

    A template copied into another repository is not that repository's history, and a
    template with uncommitted changes is recorded at its HEAD all the same: cruft can
    only name commits.
    """
    git = shutil.which("git")
    if git is None or not repo_dir.is_dir():
        return None
    try:
        completed = subprocess.run(  # noqa: S603 - git found on PATH, fixed arguments
            [git, "-C", str(repo_dir), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    lines = completed.stdout.splitlines()
    if completed.returncode != 0 or len(lines) != 2:
        return None
    toplevel, commit = lines
    return commit if Path(toplevel).resolve() == repo_dir.resolve() else None


def template_location() -> tuple[str, Path, str | None]:
    """Where cruft finds the template again, the directory cookiecutter read it from, and
    the `--checkout` it was rendered at.

    A URL is kept as the user gave it (`gh:` and the like spelt out); a local path is made
    absolute. cookiecutter gives it as typed, relative to where it ran, and the shell's
    PWD still names that place (this hook runs in the new project). cookiecutter checks
    out `--checkout` in its clone of a URL only: a local template renders as it stands.
    """
    template = expand_abbreviations(CONTEXT["_template"], BUILTIN_ABBREVIATIONS)
    repo_dir = Path(CONTEXT["_repo_dir"])
    if not repo_dir.is_absolute():
        repo_dir = Path(os.environ.get("PWD", ".")) / repo_dir
    if is_repo_url(template):
        # cookiecutter's `git+` tells it which tool clones; cruft speaks git only.
        return template.removeprefix("git+"), repo_dir, CONTEXT.get("_checkout")
    return str(repo_dir.resolve()), repo_dir, None


def write_cruft_state() -> str:
    """Write .cruft.json as `cruft create` would, so `cruft update` works without a link.

    Under cruft (create or update), cruft writes its own. The context holds the answers
    and no secret (there are none among them); cookiecutter's notes about this machine
    (`_output_dir`, `_repo_dir`) stay out. Returns one line saying what was done.
    """
    if "_commit" in CONTEXT:
        return ".cruft.json is cruft's own."
    template, repo_dir, checkout = template_location()
    commit = template_checkout(repo_dir)
    if commit is None:
        return (
            f"No .cruft.json: the template ({template}) is not a git checkout, so no commit "
            "names this version; `cruft link <template-url>` links the project later."
        )
    answers = {
        name: value
        for name, value in CONTEXT.items()
        if not name.startswith("_") or name == "_copy_without_render"
    }
    state = {
        "template": template,
        "commit": commit,
        "checkout": checkout,
        "context": {"cookiecutter": {**answers, "_template": template, "_commit": commit}},
        "directory": None,
    }
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    CRUFT_FILE.write_text(text, encoding="utf-8")
    return f".cruft.json records the template at {commit[:12]}: `cruft update` pulls later changes."


def print_next_steps(env_written: bool, lock_note: str, cruft_note: str) -> None:
    """Tell the user what to run, naming where secrets are, never their values."""
    if env_written:
        env_note = ".env was written with fresh secrets (mode 0600, git-ignored; never commit it)."
    else:
        env_note = ".env already existed and was kept as it is."
    steps = [
        "",
        f"Created {Path.cwd()}",
        env_note,
        lock_note,
        cruft_note,
        "",
        "Next steps:",
        f"  cd {Path.cwd()}",
        "  python -m venv .venv",
        "  . .venv/bin/activate",
        '  pip install -e ".[dev]"',
        "  pytest                 # or, with uv: uv sync && uv run pytest",
    ]
    if DATABASE == "postgresql":
        steps.append("  alembic upgrade head   # after creating the database named in DATABASE_URL")
    steps += [
        f"  python -m {PROJECT_SLUG}",
        "",
        "API docs: http://127.0.0.1:8000/docs",
        "  user and password: DOCS_USERNAME and DOCS_PASSWORD in .env",
        "Log in as the first admin: FIRST_ADMIN_USERNAME and FIRST_ADMIN_PASSWORD in .env",
    ]
    if USE_DOCKER == "yes":
        steps += ["", "With Docker instead: docker compose up --build"]
    print("\n".join(steps))


def main() -> int:
    env_written = write_env_file()
    remove_docker_files()
    remove_redis_files()
    remove_sentry_files()
    remove_tracing_files()
    remove_observability_page()
    remove_passkey_files()
    remove_tenancy_files()
    select_jwt_library()
    lock_note = write_uv_lock()
    cruft_note = write_cruft_state()
    print_next_steps(env_written, lock_note, cruft_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
