"""bandit finds no medium or high issue in the template's own Python."""

import subprocess
import sys

import pytest

from helpers import TEMPLATE_DIR


@pytest.mark.parametrize(
    "arguments",
    [["-r", "hooks", "bench", "tooling"], ["-s", "B101", "-r", "tests"]],
    ids=["hooks-bench-and-tooling", "tests-asserts-allowed"],
)
def test_template_python_has_no_medium_or_high_bandit_finding(arguments: list[str]) -> None:
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        [sys.executable, "-m", "bandit", "-q", "--severity-level", "medium", *arguments],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
