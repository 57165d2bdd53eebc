"""Benchmark rendered projects against a bare FastAPI app and print one table.

Run from the template repository's root with the tools' Python (it has cookiecutter):

    .venv/bin/python bench/run.py [--before DIR]

It renders the default project and the production one (`database=postgresql`,
`use_redis=yes`), each also with `multi_tenancy=yes`, installs their dependencies into
`.bench-venv/` (created on the first run, reused after), and serves each configuration
of CONFIGURATIONS (render, access log on or off, uvicorn workers) on loopback ports, with
a PostgreSQL database and a Redis database of its own for each production render. It
measures:

- throughput of an authenticated `GET /api/v1/users/me` in every configuration against
  a bare FastAPI app on the same uvicorn, Python and worker count, alternating all the
  servers (wrk when it is on PATH, else a Python load generator); what tenancy costs,
  each tenancy render (its token bound to an organization) against the same render
  without it; and how two workers scale against one, for the production render and for
  the bare app;
- `GET /api/v1/health` latency from a 50/s prober, idle and while 16 connections log in
  with a valid password as fast as they can, with production Argon2 settings;
- the server's peak RSS (VmHWM) over that flood;
- `/health` throughput with and without the app's middleware stack, and the per-request
  cost of token verification, of the user lookup and of the access line, in-process.

With `--before DIR` (a checkout of an earlier commit of this template), the same
configurations of that template, but the tenancy ones, are served and loaded in the
same rounds, and the table gets a column of their figures.

Every figure that has a target is marked PASS or MISS. The script is a report: a missed
target does not change its exit status (1 only when it could not render, install or
start the app).

This file renders, installs, serves and orders the measurements; load.py generates the
load, stores.py provides PostgreSQL and Redis, and report.py turns the figures into the
table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# tooling/ (shared with the template's tests) is at the repository's root, which is not
# on the path of a script run as `python bench/run.py`; load.py and report.py are here.
sys.path.insert(0, str(REPO))

from configurations import (  # noqa: E402
    CONFIGURATIONS,
    COSTED,
    RENDERS,
    WORKER_COUNTS,
    Configuration,
    app_target,
    bare_target,
    on_postgresql,
    with_tenancy,
)
from load import alternate, login_flood, python_load, wrk_load  # noqa: E402
from report import (  # noqa: E402
    Report,
    add_access_line,
    add_configurations,
    add_costs,
    add_flood,
    add_micro,
    add_middleware_cost,
)
from stores import app_role, postgresql_database, redis_server  # noqa: E402

from tooling.served import LOOPBACK, Served, clean_environment, serve  # noqa: E402

VENV = REPO / ".bench-venv"
SLUG = "secure_api"
ADMIN = "bench-admin"
INSTALL_TIMEOUT = 900
# One key for every server of a run: the servers of one render share their stores.
BENCH_SECRET_KEY = secrets.token_urlsafe(64)
USERS_ME = "/api/v1/users/me"
HEALTH = "/api/v1/health"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path
ORGANIZATIONS = "/api/v1/organizations"
# The organization a tenancy render's bench token is bound to.
BENCH_ORGANIZATION = {"name": "Bench", "slug": "bench"}
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW, BEFORE = "now", "before"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {completed.returncode}:\n{completed.stderr}")
    return completed.stdout


# --- render and install -----------------------------------------------------------------


def render(template: Path, workdir: Path, options: dict[str, str]) -> Path:
    """`template` rendered with `options`, replay and clones kept inside `workdir`."""
    workdir.mkdir(parents=True)
    config = workdir / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {workdir / 'cookiecutters'}\nreplay_dir: {workdir / 'replay'}\n"
    )
    output = workdir / "out"
    command = [sys.executable, "-m", "cookiecutter", str(template), "--no-input", "-o", str(output)]
    answers = [f"{name}={value}" for name, value in options.items()]
    run([*command, "--config-file", str(config), *answers], timeout=120)
    return output / SLUG


def install(projects: list[Path]) -> Path:
    """`.bench-venv` with these renders' dependencies; a path install is rebuilt on every
    run. Each render is installed in turn, so the venv holds every one's dependencies
    (the last one's package, which does not matter: every render is served from its
    own `src/`, put ahead of it on PYTHONPATH)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log(f"creating {VENV.name}/ (first run: installing the render's dependencies)")
        run([sys.executable, "-m", "venv", str(VENV)], timeout=120)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for project in projects:
        run([*pip, str(project)], timeout=INSTALL_TIMEOUT)
    return python


# --- the served app ---------------------------------------------------------------------


def app_environment(
    workdir: Path,
    admin_password: str,
    database_url: str,
    *,
    access_log: bool = False,
    redis_url: str = "",
) -> dict[str, str]:
    """What the rendered app reads; it runs from an empty directory, so no `.env`.

    With the access log on, LOG_LEVEL=INFO writes a JSON line per request to the
    server's output, a file (tooling/served.py)."""
    return {
        **clean_environment(workdir),
        "SECRET_KEY": BENCH_SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        "RATE_LIMIT_LOGIN": "1000000/minute",
        "LOG_LEVEL": "INFO" if access_log else "WARNING",
        "FIRST_ADMIN_USERNAME": ADMIN,
        "FIRST_ADMIN_EMAIL": "bench-admin@example.com",
        "FIRST_ADMIN_PASSWORD": admin_password,
    }


def sqlite_url(workdir: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{workdir / name}"


def uvicorn_command(python: Path, app: str, workers: int, app_dir: Path | None = None) -> list[str]:
    """Every server of the throughput runs is started alike: uvicorn's own command line."""
    command = [str(python.parent / "uvicorn"), app, "--host", LOOPBACK, "--port", "{port}"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    command += ["--workers", str(workers), "--no-access-log", "--no-server-header"]
    return [*command, "--no-proxy-headers", "--log-level", "warning"]


def memory_mb(server: Served, key: str) -> float | None:
    """A memory figure of the server's process from /proc (VmRSS now, VmHWM its peak)."""
    with suppress(OSError):
        for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    return None


def http_request(
    url: str, headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, bytes]:
    """A GET, or a POST of `data`; the status and the body, whatever the status."""
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 - loopback http
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(server: Served, password: str, organization: str | None = None) -> str:
    fields = {"username": ADMIN, "password": password}
    if organization is not None:
        fields["organization"] = organization
    form = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(server.url + TOKEN_PATH, data=form)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
        token: str = json.load(response)["access_token"]
        return token


def bench_token(server: Served, password: str, tenancy: bool) -> str:
    """The admin's bearer token; in a tenancy render, bound to an organization the admin
    creates (or, on a server sharing the database of one that did, already belongs to),
    so that the membership check is on the measured request's path."""
    token = log_in(server, password)
    if not tenancy:
        return token
    headers = {**bearer_header(token), "Content-Type": "application/json"}
    payload = json.dumps(BENCH_ORGANIZATION).encode()
    status, body = http_request(server.url + ORGANIZATIONS, headers, payload)
    if status not in (201, 409):  # 409: the slug is taken, by the admin on a shared database
        raise RuntimeError(f"creating the organization: {status} {body[:200]!r}")
    return log_in(server, password, BENCH_ORGANIZATION["slug"])


# --- the run ----------------------------------------------------------------------------


def migrate(python: Path, project: Path, env: dict[str, str]) -> None:
    """`alembic upgrade head`, as the production render's README says to run it."""
    command = [str(python), "-m", "alembic", "-c", str(project / "alembic.ini"), "upgrade", "head"]
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        command, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed:\n{completed.stderr[-2000:]}")


@dataclass
class Fleet:
    """Every server of the throughput runs, and a bearer token for each app server."""

    apps: dict[str, Served] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    bare: dict[int, Served] = field(default_factory=dict)


def production_stores(
    stack: ExitStack,
    args: argparse.Namespace,
    python: Path,
    render: str,
    project: Path,
    env: dict[str, str],
) -> str:
    """A PostgreSQL database of `render`'s own, migrated as its owner with the app's
    `env`; returns the URL the app connects with. A tenancy render's app
    connects as a role of its own without BYPASSRLS, as its docs/organizations.md says
    to run it, so that PostgreSQL's row-level security is on the measured path."""
    owner_url = stack.enter_context(postgresql_database(python, args.postgres_admin_url))
    migrate(python, project, {**env, "DATABASE_URL": owner_url})
    if not with_tenancy(render):
        return owner_url
    return stack.enter_context(app_role(python, args.postgres_admin_url, owner_url))


def serve_apps(
    stack: ExitStack,
    args: argparse.Namespace,
    projects: dict[str, dict[str, Path]],
    workdir: Path,
    python: Path,
    password: str,
) -> Fleet:
    """Each configuration of each version, served. Each render on PostgreSQL has a
    database and a Redis database of its own, which its configurations share, as the
    workers of one deployment do."""
    fleet = Fleet()
    redis_url = stack.enter_context(redis_server(workdir))
    # (version, render): its database URL and its Redis database's.
    stores: dict[tuple[str, str], tuple[str, str]] = {}
    for version, renders in projects.items():
        for configuration in CONFIGURATIONS:
            if configuration.render not in renders:
                continue  # a render the --before template cannot make
            name = app_target(version, configuration)
            project = renders[configuration.render]
            env = app_environment(
                workdir,
                password,
                sqlite_url(workdir, f"{name}.db"),
                access_log=configuration.access_log,
            )
            env["PYTHONPATH"] = str(project / "src")
            if on_postgresql(configuration.render):
                # Its own database and Redis database: renders share no rows, no counters.
                key = (version, configuration.render)
                if key not in stores:
                    database_url = production_stores(
                        stack, args, python, configuration.render, project, env
                    )
                    stores[key] = (database_url, f"{redis_url}/{len(stores)}")
                env["DATABASE_URL"], env["REDIS_URL"] = stores[key]
            command = uvicorn_command(python, f"{SLUG}.main:app", configuration.workers)
            log(f"serving {name}")
            server = stack.enter_context(serve(command, env, workdir, name))
            fleet.apps[name], fleet.envs[name] = server, env
            fleet.tokens[name] = bench_token(server, password, with_tenancy(configuration.render))
    return fleet


def serve_baselines(
    stack: ExitStack, fleet: Fleet, workdir: Path, python: Path, env: dict[str, str]
) -> Served:
    """The bare app with each worker count, returning the JSON the app returns; and the
    app without its middleware (from `env`), which is returned."""
    for name, server in fleet.apps.items():
        status, body = http_request(server.url + USERS_ME, bearer_header(fleet.tokens[name]))
        if status != 200:
            raise RuntimeError(f"{name}: /users/me answered {status}: {body[:200]!r}")
    # Every app returns the same admin, as the bare app must.
    bare_env = {**clean_environment(workdir), "BENCH_USER_JSON": body.decode()}
    for workers in WORKER_COUNTS:
        command = uvicorn_command(python, "bare_app:app", workers, app_dir=BENCH_DIR)
        fleet.bare[workers] = stack.enter_context(
            serve(command, bare_env, workdir, bare_target(workers))
        )
    stripped_command = [str(python), str(BENCH_DIR / "stripped_app.py")]
    return stack.enter_context(serve(stripped_command, env, workdir, "stripped"))


def measure_throughput(
    report: Report, args: argparse.Namespace, fleet: Fleet, stripped: Served
) -> None:
    targets: dict[str, tuple[str, dict[str, str]]] = {
        bare_target(n): (server.url + USERS_ME, {}) for n, server in fleet.bare.items()
    }
    for name, server in fleet.apps.items():
        targets[name] = (server.url + USERS_ME, bearer_header(fleet.tokens[name]))
    health_app = fleet.apps[app_target(NOW, default_log_off())]
    targets["app /health"] = (health_app.url + HEALTH, {})
    targets["stripped /health"] = (stripped.url + HEALTH, {})
    load = python_load if args.python_load else wrk_load
    throughput = alternate(targets, load, args.rounds, args.duration, args.connections, log)
    add_configurations(report, throughput)
    add_middleware_cost(report, throughput)


def default_log_off() -> Configuration:
    """The configuration the in-process figures and the middleware cost are taken from."""
    return next(c for c in CONFIGURATIONS if c.render == "default" and not c.access_log)


def micro(python: Path, env: dict[str, str], *options: str) -> dict[str, float]:
    output = run([str(python), str(BENCH_DIR / "micro.py"), *options], timeout=300, env=env)
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def measure_costs(report: Report, fleet: Fleet, python: Path) -> None:
    """Each COSTED configuration's request, split by part (costs.py), against the server
    of that configuration (its database, Redis and token); and the --before template's."""
    for configuration in COSTED:
        parts: dict[str, dict[str, float]] = {}
        for version in (NOW, BEFORE):
            name = app_target(version, configuration)
            if name in fleet.envs:
                env = {**fleet.envs[name], "BENCH_TOKEN": fleet.tokens[name]}
                output = run([str(python), str(BENCH_DIR / "costs.py")], timeout=300, env=env)
                figures = json.loads(output.strip().splitlines()[-1])
                parts[version] = {"total": figures["total"], **dict(figures["parts"])}
        add_costs(report, configuration.label, parts)


def measure_flood(report: Report, args: argparse.Namespace, server: Served, password: str) -> None:
    rss_before = memory_mb(server, "VmRSS")
    form = {"username": ADMIN, "password": password}
    flood = login_flood(server.url, HEALTH, TOKEN_PATH, form, args.idle_seconds, args.flood_seconds)
    add_flood(report, flood, rss_before, memory_mb(server, "VmHWM"))


def machine_description(python: Path) -> str:
    cpu = "unknown CPU"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    script = (
        "import fastapi, platform, uvicorn; print(platform.python_version(), "
        "fastapi.__version__, uvicorn.__version__)"
    )
    python_version, fastapi_version, uvicorn_version = run([str(python), "-c", script], 60).split()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {python_version}, FastAPI {fastapi_version}, uvicorn {uvicorn_version}; "
        f"load average at start {load}"
    )


def run_benchmarks(
    report: Report,
    args: argparse.Namespace,
    workdir: Path,
    python: Path,
    projects: dict[str, dict[str, Path]],
) -> None:
    """Every measurement of the installed renders, into `report`."""
    password = secrets.token_urlsafe(24)
    micro_name = app_target(NOW, default_log_off())
    with ExitStack() as stack:
        fleet = serve_apps(stack, args, projects, workdir, python, password)
        stripped = serve_baselines(stack, fleet, workdir, python, fleet.envs[micro_name])
        log("throughput: " + ("Python load generator" if args.python_load else "wrk"))
        measure_throughput(report, args, fleet, stripped)
        log("per-request costs by part, in-process")
        measure_costs(report, fleet, python)
    log("in-process microbenchmarks")
    env = {**fleet.envs[micro_name], "BENCH_TOKEN": fleet.tokens[micro_name]}
    add_micro(report, micro(python, env))
    access_line = {NOW: micro(python, env, "--access-log-only")["access_line"]}
    if BEFORE in projects:
        before_env = {**env, "PYTHONPATH": str(projects[BEFORE]["default"] / "src")}
        access_line[BEFORE] = micro(python, before_env, "--access-log-only")["access_line"]
    add_access_line(report, access_line)
    log("login flood against a fresh server with production Argon2 settings")
    flood_env = {**env, "DATABASE_URL": sqlite_url(workdir, "flood.db")}
    with serve([str(python), "-m", SLUG], flood_env, workdir, "flood") as flood_app:
        measure_flood(report, args, flood_app, password)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark rendered projects; print a table.")
    parser.add_argument("--duration", type=float, default=5, help="seconds per throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of all servers")
    parser.add_argument("--connections", type=int, default=32, help="for throughput runs")
    parser.add_argument("--idle-seconds", type=float, default=6, help="idle latency probing")
    parser.add_argument("--flood-seconds", type=float, default=15, help="probing under flood")
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator, not wrk"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of an earlier commit of this template, measured in the same rounds",
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=POSTGRES_ADMIN_URL,
        help="a server where the run may create and drop a database of its own",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        args.python_load = True
    return args


def main() -> int:
    args = parse_args()
    report = Report()
    started = time.monotonic()
    templates = {NOW: REPO, **({BEFORE: args.before.resolve()} if args.before else {})}
    with tempfile.TemporaryDirectory(prefix="secure-api-bench-") as tmp:
        workdir = Path(tmp)
        try:
            projects = {
                version: {
                    name: render(template, workdir / f"{version}-{name}", options)
                    for name, options in RENDERS.items()
                    if version == NOW or not with_tenancy(name)
                }
                for version, template in templates.items()
            }
            log(f"installing the renders' dependencies into {VENV}")
            python = install(list(projects[NOW].values()))
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"bench: could not render and install the project: {error}", file=sys.stderr)
            return 1
        report.notes.append(f"machine: {machine_description(python)}")
        generator = "Python asyncio" if args.python_load else "wrk -t1"
        report.notes.append(
            f"load generator: {generator}, {args.connections} connections, "
            f"{args.duration:g} s per run, {args.rounds} rounds alternating all the servers"
        )
        try:
            run_benchmarks(report, args, workdir, python, projects)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            print(f"bench: a measurement failed: {error}", file=sys.stderr)
            report.notes.append(f"stopped early: {str(error).splitlines()[0]}")
    if args.before:
        report.notes.append(
            f"before: the template at {args.before}; the tenancy renders are served for the "
            "current template only (an earlier one may have no multi_tenancy option)"
        )
    report.notes.append(
        "'middleware removed': the same app with app.user_middleware emptied before serving "
        "(bench/stripped_app.py); routing, dependencies and Starlette's error layers remain"
    )
    report.notes.append(f"total time {time.monotonic() - started:.0f} s")
    print()
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
