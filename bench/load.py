"""Load generation: throughput runs (wrk, or a Python client) and the login flood.

Every function here takes the URL or port to load and returns what it measured; what the
figures mean and which targets they meet is report.py's business.
"""

import asyncio
import re
import statistics
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

FLOOD_CONNECTIONS = 16
PROBE_RATE = 50.0
# The probers' own budget per request: a slower answer counts as a failed probe.
PROBE_TIMEOUT = 10.0


@dataclass
class Load:
    rps: float
    errors: int


# (url, headers, seconds, connections) -> what one run measured.
LoadGenerator = Callable[[str, dict[str, str], float, int], Load]


def wrk_load(url: str, headers: dict[str, str], seconds: float, connections: int) -> Load:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited {completed.returncode}:\n{completed.stderr}")
    output = completed.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return Load(float(rps.group(1)), errors)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return status, body


async def _python_load(
    host: str, port: int, request: bytes, seconds: float, connections: int
) -> Load:
    done = errors = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                status, _ = await read_response(reader)
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
    host, port = parts.hostname or "", parts.port or 80
    return asyncio.run(_python_load(host, port, request, seconds, connections))


# --- throughput, alternating the servers ------------------------------------------------


@dataclass
class Throughput:
    """Requests per second of each target, one value per round, and the errors seen."""

    rps: dict[str, list[float]]
    errors: list[str] = field(default_factory=list)

    def median(self, target: str) -> float:
        return statistics.median(self.rps[target])


def alternate(
    targets: dict[str, tuple[str, dict[str, str]]],
    load: LoadGenerator,
    rounds: int,
    seconds: float,
    connections: int,
    progress: Callable[[str], None],
) -> Throughput:
    """Load each (url, headers) target in turn, `rounds` times, after a 1 s warm-up of
    each: alternating spreads the machine's drifts over all targets alike."""
    measured = Throughput({name: [] for name in targets})
    for url, headers in targets.values():
        load(url, headers, 1, connections)
    for round_number in range(1, rounds + 1):
        for name, (url, headers) in targets.items():
            result = load(url, headers, seconds, connections)
            if result.errors:
                measured.errors.append(f"{name}: {result.errors} errors in round {round_number}")
            measured.rps[name].append(result.rps)
            progress(f"round {round_number}: {name} {result.rps:.0f} req/s")
    return measured


# --- the login flood --------------------------------------------------------------------


@dataclass
class FloodResult:
    idle_ms: list[float]
    flood_ms: list[float]
    logins_ok: int
    logins_failed: int
    flood_seconds: float
    probe_failures: int


async def _probe(host: str, port: int, path: str, seconds: float, samples: list[float]) -> int:
    """GET `path` PROBE_RATE times a second, each on its own connection and task, so a
    slow answer never delays the next probe (no coordinated omission). Returns the number
    of probes that failed or did not get 200."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()

    async def one() -> None:
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            status, _ = await read_response(reader)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        samples.append((time.perf_counter() - start) * 1000)

    tasks = []
    begin = time.monotonic()
    for index in range(int(PROBE_RATE * seconds)):
        await asyncio.sleep(max(0.0, begin + index / PROBE_RATE - time.monotonic()))
        tasks.append(asyncio.create_task(asyncio.wait_for(one(), timeout=PROBE_TIMEOUT)))
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return sum(isinstance(outcome, BaseException) for outcome in outcomes)


async def _flood_and_probe(
    host: str,
    port: int,
    probe_path: str,
    login: bytes,
    idle_seconds: float,
    flood_seconds: float,
) -> FloodResult:
    idle: list[float] = []
    failures = await _probe(host, port, probe_path, idle_seconds, idle)
    ok = failed = 0
    stop = asyncio.Event()

    async def flooder() -> None:
        nonlocal ok, failed
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not stop.is_set():
                writer.write(login)
                status, _ = await read_response(reader)
                ok += status == 200
                failed += status != 200
        finally:
            writer.close()

    flooders = [asyncio.create_task(flooder()) for _ in range(FLOOD_CONNECTIONS)]
    await asyncio.sleep(2)  # let the hashing queue fill before measuring
    under_flood: list[float] = []
    started = time.monotonic()
    failures += await _probe(host, port, probe_path, flood_seconds, under_flood)
    elapsed = time.monotonic() - started
    stop.set()
    # Each flooder finishes the login it has in flight.
    await asyncio.wait(flooders, timeout=30)
    for task in flooders:
        task.cancel()
    return FloodResult(idle, under_flood, ok, failed, elapsed, failures)


def login_flood(
    base_url: str,
    probe_path: str,
    token_path: str,
    form: dict[str, str],
    idle_seconds: float,
    flood_seconds: float,
) -> FloodResult:
    """Probe `probe_path` idle, then while FLOOD_CONNECTIONS connections post `form` to
    `token_path` as fast as the server answers."""
    parts = urllib.parse.urlsplit(base_url)
    host, port = parts.hostname or "", parts.port or 80
    body = urllib.parse.urlencode(form)
    login = (
        f"POST {token_path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    flood = _flood_and_probe(host, port, probe_path, login, idle_seconds, flood_seconds)
    return asyncio.run(flood)
