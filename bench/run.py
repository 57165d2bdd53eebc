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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV = REPO / ".bench-venv"
SLUG = "secure_api"
HOST = "127.0.0.1"
ADMIN = "bench-admin"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
INSTALL_TIMEOUT = 900
USERS_ME = "/api/v1/users/me"
HEALTH = "/api/v1/health"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path

# Targets from the issue that asked for this script.
RATIO_TARGET = 0.5
FLOOD_P99_TARGET_MS = 50.0
PEAK_RSS_TARGET_MB = 300.0
FLOOD_CONNECTIONS = 16
PROBE_RATE = 50.0


@dataclass
class Row:
    figure: str
    value: str
    target: str = "-"
    result: str = "info"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, value: float | None, unit_format: str = "{:.0f}") -> None:
        self.rows.append(Row(figure, "n/a" if value is None else unit_format.format(value)))

    def check(
        self, figure: str, value: float | None, target: str, passed: Callable[[float], bool]
    ) -> None:
        if value is None:
            self.rows.append(Row(figure, "n/a", target, "n/a"))
            return
        shown = f"{value:.2f}" if value < 10 else f"{value:.0f}"
        self.rows.append(Row(figure, shown, target, "PASS" if passed(value) else "MISS"))

    def print(self) -> None:
        table = [("figure", "value", "target", "result")]
        table += [(row.figure, row.value, row.target, row.result) for row in self.rows]
        widths = [max(len(cells[column]) for cells in table) for column in range(4)]
        for cells in table:
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            print(line.rstrip())
        for note in self.notes:
            print(f"- {note}")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


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


# --- servers ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def peak_rss_mb(self) -> float | None:
        return _proc_status_mb(self.process.pid, "VmHWM")

    def rss_mb(self) -> float | None:
        return _proc_status_mb(self.process.pid, "VmRSS")


def _proc_status_mb(pid: int, key: str) -> float | None:
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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


@contextmanager
def serve(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """Start a server, wait for /health (or the bare app's route), always stop it."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    rundir = workdir / f"run-{name}"
    rundir.mkdir(exist_ok=True)
    with log_path.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            [part.replace("{port}", str(port)) for part in command],
            cwd=rundir,
            env={**env, "PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, port, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log_path.read_text()[-3000:]}")
            with suppress(OSError):
                socket.create_connection((HOST, port), timeout=1).close()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def app_environment(workdir: Path, admin_password: str, database: str) -> dict[str, str]:
    """What the rendered app reads; it runs from an empty directory, so no `.env`."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "HOST": HOST,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / database}",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        "RATE_LIMIT_LOGIN": "1000000/minute",
        "LOG_LEVEL": "WARNING",
        "FIRST_ADMIN_USERNAME": ADMIN,
        "FIRST_ADMIN_EMAIL": "bench-admin@example.com",
        "FIRST_ADMIN_PASSWORD": admin_password,
    }


def log_in(server: Server, password: str) -> str:
    form = urllib.parse.urlencode({"username": ADMIN, "password": password}).encode()
    request = urllib.request.Request(server.url + TOKEN_PATH, data=form)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
        token: str = json.load(response)["access_token"]
        return token


# --- load generation --------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    errors: int


def wrk_load(url: str, headers: dict[str, str], seconds: float, connections: int) -> Load:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = run([*command, url], timeout=seconds + 30)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return Load(float(rps.group(1)), errors)


async def _python_load(port: int, request: bytes, seconds: float, connections: int) -> Load:
    done = errors = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                status, _ = await _read_response(reader)
                done += 1
                errors += status >= 400
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return Load(done / seconds, errors)


def python_load(url: str, headers: dict[str, str], seconds: float, connections: int) -> Load:
    parts = urllib.parse.urlsplit(url)
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return asyncio.run(_python_load(parts.port or 80, request, seconds, connections))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return status, body


# --- the login flood --------------------------------------------------------------------


@dataclass
class FloodResult:
    idle_ms: list[float]
    flood_ms: list[float]
    logins_ok: int
    logins_failed: int
    flood_seconds: float
    probe_failures: int


async def _probe(port: int, seconds: float, samples: list[float]) -> int:
    """GET /health PROBE_RATE times a second, each on its own connection and task, so a
    slow answer never delays the next probe (no coordinated omission). Returns the number
    of probes that failed or did not get 200."""
    request = f"GET {HEALTH} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()

    async def one() -> None:
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(request)
            status, _ = await _read_response(reader)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"/health answered {status}")
        samples.append((time.perf_counter() - start) * 1000)

    tasks = []
    begin = time.monotonic()
    for index in range(int(PROBE_RATE * seconds)):
        await asyncio.sleep(max(0.0, begin + index / PROBE_RATE - time.monotonic()))
        tasks.append(asyncio.create_task(asyncio.wait_for(one(), timeout=10)))
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return sum(isinstance(outcome, BaseException) for outcome in outcomes)


async def _flood_and_probe(
    port: int, password: str, idle_seconds: float, flood_seconds: float
) -> FloodResult:
    idle: list[float] = []
    failures = await _probe(port, idle_seconds, idle)
    form = urllib.parse.urlencode({"username": ADMIN, "password": password})
    request = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: {HOST}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\n\r\n{form}"
    ).encode()
    ok = failed = 0
    stop = asyncio.Event()

    async def flooder() -> None:
        nonlocal ok, failed
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while not stop.is_set():
                writer.write(request)
                status, _ = await _read_response(reader)
                ok += status == 200
                failed += status != 200
        finally:
            writer.close()

    flooders = [asyncio.create_task(flooder()) for _ in range(FLOOD_CONNECTIONS)]
    await asyncio.sleep(2)  # let the hashing queue fill before measuring
    under_flood: list[float] = []
    started = time.monotonic()
    failures += await _probe(port, flood_seconds, under_flood)
    elapsed = time.monotonic() - started
    stop.set()
    # Each flooder finishes the login it has in flight.
    await asyncio.wait(flooders, timeout=30)
    for task in flooders:
        task.cancel()
    return FloodResult(idle, under_flood, ok, failed, elapsed, failures)


def percentile(samples: list[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the run ----------------------------------------------------------------------------


def measure_throughput(
    report: Report,
    args: argparse.Namespace,
    servers: dict[str, Server],
    token: str,
) -> None:
    load = python_load if args.python_load else wrk_load
    bearer = {"Authorization": f"Bearer {token}"}
    targets = {
        "bare /users/me": (servers["bare"].url + USERS_ME, {}),
        "app /users/me": (servers["app"].url + USERS_ME, bearer),
        "app /health": (servers["app"].url + HEALTH, {}),
        "stripped /health": (servers["stripped"].url + HEALTH, {}),
    }
    results: dict[str, list[float]] = {name: [] for name in targets}
    for url, headers in targets.values():
        load(url, headers, 1, args.connections)  # warm-up
    for round_number in range(1, args.rounds + 1):
        for name, (url, headers) in targets.items():
            measured = load(url, headers, args.duration, args.connections)
            if measured.errors:
                report.notes.append(f"{name}: {measured.errors} errors in round {round_number}")
            results[name].append(measured.rps)
            log(f"round {round_number}: {name} {measured.rps:.0f} req/s")
    median = {name: statistics.median(values) for name, values in results.items()}
    report.add("users/me req/s, bare FastAPI (median)", median["bare /users/me"])
    report.add("users/me req/s, rendered app (median)", median["app /users/me"])
    report.check(
        "users/me throughput, app / bare",
        median["app /users/me"] / median["bare /users/me"],
        f">= {RATIO_TARGET}",
        lambda ratio: ratio >= RATIO_TARGET,
    )
    report.add("health req/s, full middleware stack", median["app /health"])
    report.add("health req/s, middleware removed", median["stripped /health"])
    report.add(
        "middleware stack, cost per request (us)",
        1e6 / median["app /health"] - 1e6 / median["stripped /health"],
        "{:.1f}",
    )
    spread = ", ".join(f"{name} {min(v):.0f}-{max(v):.0f}" for name, v in results.items())
    report.notes.append(f"req/s range over the rounds: {spread}")


def measure_micro(report: Report, python: Path, env: dict[str, str], token: str) -> None:
    output = run(
        [str(python), str(BENCH_DIR / "micro.py")], timeout=300, env={**env, "BENCH_TOKEN": token}
    )
    micro: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    us = "{:.1f}"
    report.add("token verification, first use (us)", micro.get("decode_unseen"), us)
    report.add("token verification, repeat use (us)", micro.get("decode_repeat"), us)
    report.add("principal cache hit, PrincipalCache.get (us)", micro.get("cache_get"), us)
    report.add("bearer auth, cache hit (us)", micro.get("auth_hit"), us)
    report.add("bearer auth, cache miss with DB lookup (us)", micro.get("auth_miss"), us)
    if "auth_miss" in micro:
        lookup = micro["auth_miss"] - micro["auth_hit"]
        report.add("user lookup in the DB, miss - hit (us)", lookup, us)


def measure_flood(report: Report, args: argparse.Namespace, server: Server, password: str) -> None:
    rss_before = server.rss_mb()
    flood = asyncio.run(
        _flood_and_probe(server.port, password, args.idle_seconds, args.flood_seconds)
    )
    peak = server.peak_rss_mb()
    ms = "{:.1f}"
    report.add("health p50 idle (ms)", percentile(flood.idle_ms, 0.50), ms)
    report.add("health p99 idle (ms)", percentile(flood.idle_ms, 0.99), ms)
    report.add("health p50 under login flood (ms)", percentile(flood.flood_ms, 0.50), ms)
    report.check(
        "health p99 under login flood (ms)",
        percentile(flood.flood_ms, 0.99),
        f"<= {FLOOD_P99_TARGET_MS:g}",
        lambda p99: p99 <= FLOOD_P99_TARGET_MS,
    )
    report.add("logins/s during the flood", flood.logins_ok / flood.flood_seconds, "{:.1f}")
    report.add("server RSS before the flood (MB)", rss_before)
    report.check(
        "server peak RSS, VmHWM (MB)",
        peak,
        f"<= {PEAK_RSS_TARGET_MB:g}",
        lambda mb: mb <= PEAK_RSS_TARGET_MB,
    )
    if flood.logins_failed or flood.probe_failures:
        report.notes.append(
            f"login flood: {flood.logins_failed} logins without 200, "
            f"{flood.probe_failures} failed health probes"
        )
    report.notes.append(
        f"{len(flood.idle_ms)} idle and {len(flood.flood_ms)} flood probes at {PROBE_RATE:g}/s; "
        f"{FLOOD_CONNECTIONS} connections logged in {flood.logins_ok} times "
        f"in {flood.flood_seconds:.0f} s"
    )


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
    password = secrets.token_urlsafe(24)
    env = app_environment(workdir, password, "throughput.db")
    app_command = [str(python), "-m", SLUG]
    with serve("app", app_command, env, workdir) as app:
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
            HOST,
            "--port",
            "{port}",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        bare_env = {**env, "BENCH_USER_JSON": body.decode()}
        stripped_command = [str(python), str(BENCH_DIR / "stripped_app.py")]
        with (
            serve("bare", bare_command, bare_env, workdir) as bare,
            serve("stripped", stripped_command, env, workdir) as stripped,
        ):
            servers = {"app": app, "bare": bare, "stripped": stripped}
            log("throughput: " + ("Python load generator" if args.python_load else "wrk"))
            measure_throughput(report, args, servers, token)
        log("in-process microbenchmarks")
        measure_micro(report, python, env, token)
    log("login flood against a fresh server with production Argon2 settings")
    flood_env = app_environment(workdir, password, "flood.db")
    with serve("flood", app_command, flood_env, workdir) as flood_app:
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
