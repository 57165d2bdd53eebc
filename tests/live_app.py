"""A rendered project served for real: install the default render, start and stop it.

For tests that talk to the app over HTTP as a client would. Installing needs the package
index (or a pip cache); serving needs nothing but loopback.
"""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tooling.served import clean_environment, serve

from helpers import DEFAULT_SLUG, run_cookiecutter

INSTALL_TIMEOUT = 900
# Argon2 at its cheapest: these tests log in often and measure nothing about hashing.
FAST_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"}


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


@contextmanager
def served(python: Path, workdir: Path, settings: dict[str, str]) -> Iterator[str]:
    """`python -m secure_api` on a free loopback port with only `settings` (and PATH) in
    its environment, run from an empty directory so no `.env` is read; yields its URL.

    The server is always stopped, and its output is in `workdir/server.log`.
    """
    environment = {**clean_environment(workdir), **settings}
    with serve([str(python), "-m", DEFAULT_SLUG], environment, workdir) as server:
        yield server.url
