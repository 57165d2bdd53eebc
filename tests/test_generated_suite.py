"""Renders of the option matrix install, pass their own test suite and their own gates.

Three renders here and a fourth in test_dependency_floors.py (postgresql without Redis,
organizations and passkeys on, installed at its lowest versions) cover each option's
values: both databases with and without Redis, organizations with both databases and both
Redis values, passkeys off in the sqlite + Redis one (on, the default, in the others),
PyJWT in one render and python-jose (the default) in the others, the Docker files in
two, and Sentry and OpenTelemetry in the postgresql + Redis one (each option's render
test covers the rest). Those with `postgresql` run their suite against the local
server (127.0.0.1:5432, or the one DATABASE_URL names; `.ci/run` starts it), on which the
render's own conftest creates and drops a test database of its own. Those with
`use_redis=yes` get a real Redis server of this test session's own, on a free port: the
render's tests empty their Redis database before each test, and two suites (or someone
else's) sharing one would break each other.
Coverage is enforced by `make test` (pytest --cov with fail_under): its exit code covers it.

Installing is the slow part: renders share one virtualenv per database, and each is
installed (`pip install -e`) over the one before just ahead of its checks, at the newest
versions pyproject.toml allows (test_dependency_floors.py installs its lowest, and checks
`make audit`). Installing needs the package index (or a pip cache); the checks need no
network. The sqlite and the postgresql renders are two test classes: `make test` runs
pytest-xdist with `--dist loadscope`, which gives each class to one worker, so the two
run side by side.
"""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import matrix_id, run_cookiecutter

INSTALL_TIMEOUT = 900
# A render's whole suite takes 2-5 minutes on the CI machine; three times that is a hang,
# and failing then leaves the run inside its 30 minutes.
RUN_TIMEOUT = 900
LINT_TIMEOUT = 300
REDIS_START_TIMEOUT = 30

# The default render first; the observability options in the render closest to a
# production deployment.
SUITE_MATRIX = [
    {"database": "sqlite", "use_redis": "no", "use_docker": "yes"},
    {
        "database": "sqlite",
        "use_redis": "yes",
        "use_docker": "no",
        "jwt_library": "pyjwt",
        "multi_tenancy": "yes",
        "passkeys": "no",
    },
    {
        "database": "postgresql",
        "use_redis": "yes",
        "use_docker": "yes",
        "use_sentry": "yes",
        "use_opentelemetry": "yes",
        "multi_tenancy": "yes",
    },
]


@dataclass
class SharedVenv:
    """A virtualenv shared by the renders of one database; `installed` is the render in it."""

    path: Path
    installed: Path | None = None


@dataclass
class InstalledRender:
    project: Path
    venv: Path
    environment: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def tool(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def clean_environment(venv: Path) -> dict[str, str]:
    """The caller's environment with the render's virtualenv first and no outside Python setup."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name
        not in {
            "PYTHONPATH",
            "PYTHONHOME",
            "VIRTUAL_ENV",
            "PIP_REQUIRE_VIRTUALENV",
            "REDIS_URL",
            # Under `make test`, a make run by a test would count as a sub-make and print
            # "Entering directory" lines into the output the test reads.
            "MAKELEVEL",
            "MAKEFLAGS",
            "MFLAGS",
        }
    }
    environment["VIRTUAL_ENV"] = str(venv)
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return environment


def run(
    command: Sequence[str],
    cwd: Path,
    venv: Path,
    timeout: int,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Run `command` in the render; fail the test with its output if it fails or hangs."""
    try:
        completed = subprocess.run(  # noqa: S603 - fixed commands, no shell
            list(command),
            cwd=cwd,
            env={**clean_environment(venv), **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        # The tail names the test file that never finished (pytest prints one per line).
        printed = expired.output or b""
        tail = printed.decode(errors="replace") if isinstance(printed, bytes) else printed
        pytest.fail(f"{command} still running after {timeout} s; it printed:\n{tail[-4000:]}")
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{command} exited {completed.returncode}:\n{output}"
    return output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of this test session's own (one per xdist worker), stopped at the end."""
    port = _free_port()
    directory = tmp_path_factory.mktemp("redis")
    # The render's tests flush their Redis database before each test: nothing else may use it.
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    server = subprocess.Popen(  # noqa: S603 - fixed command, no shell
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while not _redis_answers(port):
            assert server.poll() is None, f"redis-server exited with {server.returncode}"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def shared_venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SharedVenv]:
    root = tmp_path_factory.mktemp("venvs")
    return {database: SharedVenv(root / database) for database in ("sqlite", "postgresql")}


@pytest.fixture(scope="session")
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """One render of the matrix (its options come by indirect parametrization of a class
    below): (project dir, options). Session-scoped, so pytest runs its tests together."""
    options: dict[str, str] = request.param
    result = run_cookiecutter(tmp_path_factory.mktemp("generated"), options)
    assert result.returncode == 0, result.stderr
    return result.project, options


@pytest.fixture
def installed(
    request: pytest.FixtureRequest,
    rendered: tuple[Path, dict[str, str]],
    shared_venvs: dict[str, SharedVenv],
) -> InstalledRender:
    """The render, installed with its `[dev]` extra into its database's shared virtualenv."""
    project, options = rendered
    venv = shared_venvs[options["database"]]
    python = venv.path / "bin" / "python"
    if not python.exists():
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "venv", str(venv.path)], check=True, timeout=INSTALL_TIMEOUT
        )
    if venv.installed != project:
        venv.installed = None
        install = [str(python), "-m", "pip", "install", "--quiet", "-e", f"{project}[dev]"]
        run(install, project, venv.path, INSTALL_TIMEOUT)
        venv.installed = project
    environment = {}
    if options["use_redis"] == "yes":
        environment["REDIS_URL"] = request.getfixturevalue("redis_url")
    return InstalledRender(project, venv.path, environment)


class GeneratedSuiteChecks:
    """The checks every render passes; the classes below choose the renders."""

    def test_generated_suite_passes(self, installed: InstalledRender) -> None:
        # pytest, as the README says. Coverage (`make test`) is measured on the removal
        # render's suite (test_remove_example.py), the default render less its example:
        # Python 3.11's tracer doubles a suite's time, and measured on every row, the
        # suites alone took CI past its 30 minutes.
        output = run(
            [installed.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            installed.project,
            installed.venv,
            RUN_TIMEOUT,
            extra_env=installed.environment,
        )

        summaries = re.findall(r"^(\d+ passed.*) in [\d.]+s", output, re.MULTILINE)
        assert summaries, output[-2000:]
        assert not re.search(r"failed|error", summaries[-1]), summaries[-1]

    def test_generated_code_passes_ruff_check(self, installed: InstalledRender) -> None:
        run(
            [installed.tool("ruff"), "check", "--no-cache", "."],
            installed.project,
            installed.venv,
            LINT_TIMEOUT,
        )

    def test_generated_code_is_ruff_formatted(self, installed: InstalledRender) -> None:
        run(
            [installed.tool("ruff"), "format", "--check", "--no-cache", "."],
            installed.project,
            installed.venv,
            LINT_TIMEOUT,
        )

    def test_generated_code_passes_mypy_strict(self, installed: InstalledRender) -> None:
        run(
            [
                installed.python,
                "-m",
                "mypy",
                "--strict",
                "--no-incremental",
                "--cache-dir",
                os.devnull,
                "src",
            ],
            installed.project,
            installed.venv,
            LINT_TIMEOUT,
        )

    def test_generated_code_passes_bandit(self, installed: InstalledRender) -> None:
        run(
            [installed.tool("bandit"), "-q", "-c", "pyproject.toml", "-r", "src"],
            installed.project,
            installed.venv,
            LINT_TIMEOUT,
        )


@pytest.mark.parametrize(
    "rendered",
    [options for options in SUITE_MATRIX if options["database"] == "sqlite"],
    ids=matrix_id,
    indirect=True,
)
class TestSqliteRenders(GeneratedSuiteChecks):
    """The sqlite renders: one virtualenv, one xdist worker."""


@pytest.mark.parametrize(
    "rendered",
    [options for options in SUITE_MATRIX if options["database"] == "postgresql"],
    ids=matrix_id,
    indirect=True,
)
class TestPostgresqlRenders(GeneratedSuiteChecks):
    """The postgresql renders: one virtualenv, one xdist worker."""
