"""Benchmark a rendered project against a bare FastAPI app and print one table.

Run from the template repository's root with the tools' Python (it has cookiecutter):

    .venv/bin/python bench/run.py

It renders the default project into a temporary directory, installs it into
`.bench-venv/` (created on the first run, reused after), serves it with
`python -m secure_api` (one uvicorn worker) on loopback ports, and measures:

- throughput of an authenticated `GET /api/v1/users/me` against a bare FastAPI app on
  the same uvicorn and Python, alternating the two (wrk when it is on PATH, else a
  Python load generator);
- `GET /api/v1/health` latency from a 50/s prober, idle and while 16 connections log in
  with a valid password as fast as they can, with production Argon2 settings;
- the server's peak RSS (VmHWM) over that flood;
- `/health` throughput with and without the app's middleware stack, and the per-request
  cost of token verification and of the user lookup, in-process.

Every figure that has a target is marked PASS or MISS. The script is a report: a missed
target does not change its exit status (1 only when it could not render, install or
start the app).

This file renders, installs, serves and orders the measurements; load.py generates the
load and report.py turns the figures into the table.
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
from contextlib import suppress
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# tooling/ (shared with the template's tests) is at the repository's root, which is not
# on the path of a script run as `python bench/run.py`; load.py and report.py are here.
sys.path.insert(0, str(REPO))

from load import alternate, login_flood, python_load, wrk_load  # noqa: E402
from report import Report, add_flood, add_micro, add_throughput  # noqa: E402

from tooling.served import LOOPBACK, Served, clean_environment, serve  # noqa: E402

VENV = REPO / ".bench-venv"
SLUG = "secure_api"
ADMIN = "bench-admin"
INSTALL_TIMEOUT = 900
USERS_ME = "/api/v1/users/me"
HEALTH = "/api/v1/health"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path


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


def render(workdir: Path) -> Path:
    """The default project, rendered with replay and clones kept inside `workdir`."""
    config = workdir / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {workdir / 'cookiecutters'}\nreplay_dir: {workdir / 'replay'}\n"
    )
    output = workdir / "out"
    command = [sys.executable, "-m", "cookiecutter", str(REPO), "--no-input", "-o", str(output)]
    run([*command, "--config-file", str(config)], timeout=120)
    return output / SLUG


def install(project: Path) -> Path:
    """`.bench-venv` with this render installed; a path install is rebuilt on every run."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log(f"creating {VENV.name}/ (first run: installing the render's dependencies)")
        run([sys.executable, "-m", "venv", str(VENV)], timeout=120)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, str(project)], timeout=INSTALL_TIMEOUT)
    return python


# --- the served app ---------------------------------------------------------------------


def app_environment(workdir: Path, admin_password: str, database: str) -> dict[str, str]:
    """What the rendered app reads; it runs from an empty directory, so no `.env`."""
    return {
        **clean_environment(workdir),
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / database}",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        "RATE_LIMIT_LOGIN": "1000000/minute",
        "LOG_LEVEL": "WARNING",
        "FIRST_ADMIN_USERNAME": ADMIN,
        "FIRST_ADMIN_EMAIL": "bench-admin@example.com",
        "FIRST_ADMIN_PASSWORD": admin_password,
    }


def memory_mb(server: Served, key: str) -> float | None:
    """A memory figure of the server's process from /proc (VmRSS now, VmHWM its peak)."""
    with suppress(OSError):
        for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    return None


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback http
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  # nosec B310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def log_in(server: Served, password: str) -> str:
    form = urllib.parse.urlencode({"username": ADMIN, "password": password}).encode()
    request = urllib.request.Request(server.url + TOKEN_PATH, data=form)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
        token: str = json.load(response)["access_token"]
        return token


# --- the run ----------------------------------------------------------------------------


def measure_throughput(
    report: Report, args: argparse.Namespace, servers: dict[str, Served], token: str
) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    targets = {
        "bare /users/me": (servers["bare"].url + USERS_ME, {}),
        "app /users/me": (servers["app"].url + USERS_ME, bearer),
        "app /health": (servers["app"].url + HEALTH, {}),
        "stripped /health": (servers["stripped"].url + HEALTH, {}),
    }
    load = python_load if args.python_load else wrk_load
    throughput = alternate(targets, load, args.rounds, args.duration, args.connections, log)
    add_throughput(report, throughput)


def measure_micro(report: Report, python: Path, env: dict[str, str], token: str) -> None:
    output = run(
        [str(python), str(BENCH_DIR / "micro.py")], timeout=300, env={**env, "BENCH_TOKEN": token}
    )
    add_micro(report, json.loads(output.strip().splitlines()[-1]))


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


def run_benchmarks(report: Report, args: argparse.Namespace, workdir: Path, python: Path) -> None:
    """Every measurement of one installed render, into `report`."""
    password = secrets.token_urlsafe(24)
    env = app_environment(workdir, password, "throughput.db")
    app_command = [str(python), "-m", SLUG]
    with serve(app_command, env, workdir, "app") as app:
        token = log_in(app, password)
        status, body = http_get(app.url + USERS_ME, {"Authorization": f"Bearer {token}"})
        if status != 200:
            raise RuntimeError(f"/users/me answered {status}: {body[:200]!r}")
        bare_command = [
            str(python.parent / "uvicorn"),
            "bare_app:app",
            "--app-dir",
            str(BENCH_DIR),
            "--host",
            LOOPBACK,
            "--port",
            "{port}",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        bare_env = {**env, "BENCH_USER_JSON": body.decode()}
        stripped_command = [str(python), str(BENCH_DIR / "stripped_app.py")]
        with (
            serve(bare_command, bare_env, workdir, "bare") as bare,
            serve(stripped_command, env, workdir, "stripped") as stripped,
        ):
            servers = {"app": app, "bare": bare, "stripped": stripped}
            log("throughput: " + ("Python load generator" if args.python_load else "wrk"))
            measure_throughput(report, args, servers, token)
        log("in-process microbenchmarks")
        measure_micro(report, python, env, token)
    log("login flood against a fresh server with production Argon2 settings")
    flood_env = app_environment(workdir, password, "flood.db")
    with serve(app_command, flood_env, workdir, "flood") as flood_app:
        measure_flood(report, args, flood_app, password)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark a rendered project; print a table.")
    parser.add_argument("--duration", type=float, default=5, help="seconds per throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of all servers")
    parser.add_argument("--connections", type=int, default=32, help="for throughput runs")
    parser.add_argument("--idle-seconds", type=float, default=6, help="idle latency probing")
    parser.add_argument("--flood-seconds", type=float, default=15, help="probing under flood")
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator, not wrk"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        args.python_load = True
    return args


def main() -> int:
    args = parse_args()
    report = Report()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="secure-api-bench-") as tmp:
        workdir = Path(tmp)
        try:
            log("rendering the default project")
            project = render(workdir)
            log(f"installing it into {VENV}")
            python = install(project)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"bench: could not render and install the project: {error}", file=sys.stderr)
            return 1
        report.notes.append(f"machine: {machine_description(python)}")
        generator = "Python asyncio" if args.python_load else "wrk -t1"
        report.notes.append(
            f"load generator: {generator}, {args.connections} connections, "
            f"{args.duration:g} s per run, {args.rounds} rounds alternating the servers"
        )
        try:
            run_benchmarks(report, args, workdir, python)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            print(f"bench: a measurement failed: {error}", file=sys.stderr)
            report.notes.append(f"stopped early: {str(error).splitlines()[0]}")
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
