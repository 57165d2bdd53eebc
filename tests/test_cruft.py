"""A render can be linked to the template with cruft and pull later template changes.

cruft works from a git repository of the template. The tests commit this working tree
into a repository of their own (so uncommitted template changes are what gets tested)
and use it by its local path: no network.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import DEFAULT_SLUG, TEMPLATE_DIR, read_env, write_cookiecutter_config

CRUFT = Path(sys.executable).with_name("cruft")
GIT_IDENTITY = ("-c", "user.name=Template Tests", "-c", "user.email=tests@example.com")
NOT_TEMPLATE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".demo",
    ".bench-venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        ["git", *GIT_IDENTITY, "-c", "commit.gpgsign=false", *args],  # noqa: S607
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout.strip()


def cruft(workdir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run cruft with its cookiecutter config, replay and clones kept under `workdir`."""
    return subprocess.run(  # noqa: S603 - fixed command, no shell
        [str(CRUFT), *args],
        cwd=cwd,
        env={**os.environ, "HOME": str(workdir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def template_repo(tmp_path: Path) -> tuple[Path, str]:
    """This working tree, committed to a fresh repository: (its path, the commit)."""
    repo = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, repo, ignore=NOT_TEMPLATE)
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "template")
    return repo, git(repo, "rev-parse", "HEAD")


@pytest.fixture
def linked_render(tmp_path: Path, template_repo: tuple[Path, str]) -> Path:
    """The default render made by `cruft create`, committed to its own repository."""
    repo, _ = template_repo
    config = write_cookiecutter_config(tmp_path)
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    created = cruft(
        tmp_path,
        "create",
        str(repo),
        "--no-input",
        "--output-dir",
        str(output_dir),
        "--config-file",
        str(config),
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    project = output_dir / DEFAULT_SLUG
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "generated")
    return project


def test_cruft_create_records_the_template_and_commit(
    linked_render: Path, template_repo: tuple[Path, str]
) -> None:
    repo, commit = template_repo
    state = json.loads((linked_render / ".cruft.json").read_text(encoding="utf-8"))
    secrets = read_env(linked_render / ".env")

    assert state["template"] == str(repo)
    assert state["commit"] == commit
    assert state["context"]["cookiecutter"]["project_slug"] == DEFAULT_SLUG
    state_text = json.dumps(state)
    for name in ("SECRET_KEY", "DOCS_PASSWORD", "FIRST_ADMIN_PASSWORD"):
        assert secrets[name]
        assert secrets[name] not in state_text, name


def test_cruft_update_pulls_template_changes_and_keeps_env(
    tmp_path: Path, linked_render: Path, template_repo: tuple[Path, str]
) -> None:
    repo, _ = template_repo
    env_before = (linked_render / ".env").read_bytes()
    assert cruft(tmp_path, "check", cwd=linked_render).returncode == 0

    changelog = repo / "{{cookiecutter.project_slug}}" / "CHANGELOG.md"
    changelog.write_text(changelog.read_text(encoding="utf-8") + "- A template fix.\n")
    git(repo, "commit", "--quiet", "--all", "--message", "template fix")
    new_commit = git(repo, "rev-parse", "HEAD")
    assert cruft(tmp_path, "check", cwd=linked_render).returncode != 0

    updated = cruft(tmp_path, "update", "--skip-apply-ask", cwd=linked_render)

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "- A template fix." in (linked_render / "CHANGELOG.md").read_text(encoding="utf-8")
    assert (linked_render / ".env").read_bytes() == env_before
    # Without `[tool.cruft] skip`, the two throwaway renders' .env files differ and the
    # update leaves .env.rej holding their secrets.
    assert sorted(linked_render.rglob("*.rej")) == []
    state = json.loads((linked_render / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == new_commit
