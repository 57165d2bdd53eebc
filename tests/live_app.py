"""A rendered project served for real: install the default render, start and stop it.

For tests that talk to the app over HTTP as a client would. Installing needs the package
index (or a pip cache); serving needs nothing but loopback.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import DEFAULT_SLUG, run_cookiecutter

LOOPBACK = "127.0.0.1"
INSTALL_TIMEOUT = 900
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# Argon2 at its cheapest: these tests log in often and measure nothing about hashing.
FAST_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def install_default_render(workdir: Path) -> Path:
    """Render the default project and install it into a venv of its own; its Python."""
    rendered = run_cookiecutter(workdir)
    assert rendered.returncode == 0, rendered.stderr
    venv = workdir / "venv"
    subprocess.run(  # noqa: S603 - fixed command, no shell
        [sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT
    )
    python = venv / "bin" / "python"
    pip_install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    installed = subprocess.run(  # noqa: S603 - fixed command, no shell
        [*pip_install, "-e", str(rendered.project)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


def _answers(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def served(python: Path, workdir: Path, settings: dict[str, str]) -> Iterator[str]:
    """`python -m secure_api` on a free loopback port with only `settings` (and PATH) in
    its environment, run from an empty directory so no `.env` is read; yields its URL.

    uvicorn listens only once the app's start-up (migrations, first admin) is done, so an
    accepted connection means ready. The server is always stopped, and its output is in
    `workdir/server.log`.
    """
    port = free_port()
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        **settings,
        "HOST": LOOPBACK,
        "PORT": str(port),
    }
    rundir = workdir / "run"
    rundir.mkdir(exist_ok=True)
    log = workdir / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            [str(python), "-m", DEFAULT_SLUG],
            cwd=rundir,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(port):
            assert server.poll() is None, f"the server exited:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no answer in time:\n{log.read_text()[-4000:]}"
            time.sleep(0.2)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=STOP_TIMEOUT)
