"""The development tools agree: pre-commit runs the ruff that the `dev` tools pin.

When a dependency update moves one (Dependabot bumps `ruff==` in pyproject.toml), this
fails until `.pre-commit-config.yaml` names the same release.
"""

import re
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RUFF_HOOK_REVISION = re.compile(
    r"repo: https://github\.com/astral-sh/ruff-pre-commit\n\s+rev: v(\S+)"
)


def test_pre_commit_runs_the_ruff_version_pinned_for_dev() -> None:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [
        requirement
        for requirement in pyproject["project"]["optional-dependencies"]["dev"]
        if requirement.startswith("ruff")
    ]
    hook = RUFF_HOOK_REVISION.search(
        (PROJECT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    )

    assert hook is not None
    assert pins == [f"ruff=={hook.group(1)}"]
