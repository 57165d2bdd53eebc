"""A server on a free loopback port: start it, wait until it accepts connections, stop it.

The template's tests serve a render to attack it or drive a browser against it; the
benchmark serves a render, a bare FastAPI app and a stripped render side by side. All of
them start, wait for and stop their servers here.
"""

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.2
# Enough of the server's output to show why it failed, little enough to read.
LOG_TAIL_CHARACTERS = 4000


class ServerFailed(RuntimeError):
    """The server exited, or did not accept a connection in time; the end of its output
    is in the message."""


@dataclass(frozen=True)
class Served:
    """A running server: its process, its port on LOOPBACK and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-LOG_TAIL_CHARACTERS:]


def free_port() -> int:
    """A loopback port nobody listens on now: the system picks it from its free ones."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except OSError:
        return False
    return True


def clean_environment(home: Path) -> dict[str, str]:
    """PATH, HOME and LANG, nothing else: no setting of the caller's (a DATABASE_URL, a
    SECRET_KEY) reaches the server unless it is passed on purpose."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}


@contextmanager
def serve(
    command: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    name: str = "server",
    start_timeout: float = START_TIMEOUT,
) -> Iterator[Served]:
    """Run `command` on a free loopback port and yield it once it accepts a connection.

    The port is given to the server as HOST and PORT in its environment (`env` plus
    those two) and in place of "{port}" in its arguments. It runs from the empty
    directory `workdir/run-<name>`, so it finds no `.env`, and writes its output to
    `workdir/<name>.log`. uvicorn listens only once the app's start-up (migrations, the
    first admin) is done, so an accepted connection means ready. The server is always
    stopped: terminated, then killed if it has not exited after STOP_TIMEOUT.
    """
    port = free_port()
    rundir = workdir / f"run-{name}"
    rundir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the callers' fixed commands, no shell
            [part.replace("{port}", str(port)) for part in command],
            cwd=rundir,
            env={**env, "HOST": LOOPBACK, "PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    served = Served(name, process, port, log)
    try:
        deadline = time.monotonic() + start_timeout
        while not accepts_connections(port):
            if process.poll() is not None:
                failure = f"exited with {process.returncode}"
                raise ServerFailed(f"{name} {failure}:\n{served.log_tail()}")
            if time.monotonic() > deadline:
                failure = f"did not answer in {start_timeout:g} s"
                raise ServerFailed(f"{name} {failure}:\n{served.log_tail()}")
            time.sleep(POLL_INTERVAL)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
