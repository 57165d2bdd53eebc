"""A default render installs, passes its own test suite and its own linters.

One virtualenv per session: installing the project's dependencies is the slow part.
Installing needs the package index (or a pip cache); running needs no network.
"""

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers import DEFAULT_SLUG, TEMPLATE_DIR, write_cookiecutter_config

INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 900


def clean_environment(venv: Path) -> dict[str, str]:
    """The caller's environment with the render's virtualenv first and no outside Python setup."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}
    }
    environment["VIRTUAL_ENV"] = str(venv)
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return environment


def run(command: Sequence[str], cwd: Path, venv: Path, timeout: int) -> str:
    """Run `command` in the render; fail the test with its output if it fails."""
    completed = subprocess.run(  # noqa: S603 - fixed commands, no shell
        list(command),
        cwd=cwd,
        env=clean_environment(venv),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{command} exited {completed.returncode}:\n{output}"
    return output


@pytest.fixture(scope="session")
def installed_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default render with its `[dev]` extra installed: (project dir, virtualenv)."""
    workdir = tmp_path_factory.mktemp("generated")
    config = write_cookiecutter_config(workdir)
    subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(TEMPLATE_DIR),
            "--no-input",
            "--output-dir",
            str(workdir),
            "--config-file",
            str(config),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    project = workdir / DEFAULT_SLUG
    venv = workdir / "venv"
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT
    )
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", f"{project}[dev]"],
        cwd=project,
        venv=venv,
        timeout=INSTALL_TIMEOUT,
    )
    return project, venv


def test_generated_tests_pass(installed_render: tuple[Path, Path]) -> None:
    project, venv = installed_render
    python = str(venv / "bin" / "python")

    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, venv, RUN_TIMEOUT)


def test_generated_code_passes_ruff_check(installed_render: tuple[Path, Path]) -> None:
    project, venv = installed_render

    run([str(venv / "bin" / "ruff"), "check", "--no-cache", "."], project, venv, RUN_TIMEOUT)


def test_generated_code_is_ruff_formatted(installed_render: tuple[Path, Path]) -> None:
    project, venv = installed_render

    run(
        [str(venv / "bin" / "ruff"), "format", "--check", "--no-cache", "."],
        project,
        venv,
        RUN_TIMEOUT,
    )


def test_generated_code_passes_mypy_strict(installed_render: tuple[Path, Path]) -> None:
    project, venv = installed_render
    python = str(venv / "bin" / "python")

    run(
        [python, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "src"],
        project,
        venv,
        RUN_TIMEOUT,
    )
