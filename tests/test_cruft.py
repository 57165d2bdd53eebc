"""A render can pull later template changes with cruft, however it was made.

`cruft create` records the template in .cruft.json; so does the post-generation hook
when plain cookiecutter renders a git checkout of the template (by path or by URL), so
`cruft update` works without `cruft link`. cruft works from a git repository of the
template: the tests commit this working tree into a repository of their own (so
uncommitted template changes are what gets tested) and use it by its path or a file://
URL: no network.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import (
    DEFAULT_SLUG,
    TEMPLATE_DIR,
    read_env,
    run_cookiecutter,
    write_cookiecutter_config,
)

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


def commit_all(project: Path, message: str) -> None:
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", message)


def commit_template_fix(repo: Path) -> str:
    """A change to the rendered CHANGELOG, committed to the template: the new commit."""
    changelog = repo / "{{cookiecutter.project_slug}}" / "CHANGELOG.md"
    changelog.write_text(changelog.read_text(encoding="utf-8") + "- A template fix.\n")
    git(repo, "commit", "--quiet", "--all", "--message", "template fix")
    return git(repo, "rev-parse", "HEAD")


def assert_no_secret_in(text: str, project: Path) -> None:
    secrets = read_env(project / ".env")
    names = [name for name in secrets if name.endswith(("_KEY", "_PASSWORD")) and secrets[name]]
    assert {"SECRET_KEY", "DOCS_PASSWORD", "FIRST_ADMIN_PASSWORD"} <= set(names)
    for name in names:
        assert secrets[name] not in text, name


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
    commit_all(project, "generated")
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
    assert secrets["SECRET_KEY"]
    assert_no_secret_in(json.dumps(state), linked_render)


def test_cruft_update_pulls_template_changes_and_keeps_env(
    tmp_path: Path, linked_render: Path, template_repo: tuple[Path, str]
) -> None:
    repo, _ = template_repo
    env_before = (linked_render / ".env").read_bytes()
    assert cruft(tmp_path, "check", cwd=linked_render).returncode == 0

    new_commit = commit_template_fix(repo)
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


def test_plain_cookiecutter_render_records_the_template_for_cruft(
    tmp_path: Path, template_repo: tuple[Path, str]
) -> None:
    repo, commit = template_repo
    options = {"database": "postgresql", "use_docker": "yes"}
    rendered = run_cookiecutter(tmp_path, options, template=str(repo))
    assert rendered.returncode == 0, rendered.stderr
    project = rendered.project

    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    answers = state["context"]["cookiecutter"]

    assert (state["template"], state["commit"], state["checkout"]) == (str(repo), commit, None)
    assert (answers["_template"], answers["_commit"]) == (str(repo), commit)
    assert {name: answers[name] for name in options} == options
    # Where cookiecutter ran is this machine's business, not the project's.
    assert not {"_output_dir", "_repo_dir", "_checkout"} & set(answers)
    assert f".cruft.json records the template at {commit[:12]}" in rendered.stdout
    assert "POSTGRES_PASSWORD" in read_env(project / ".env")
    assert_no_secret_in((project / ".cruft.json").read_text(encoding="utf-8"), project)
    replays = sorted(rendered.replay_dir.rglob("*.json"))
    assert replays, "cookiecutter wrote no replay file where the config said"
    assert_no_secret_in("".join(path.read_text(encoding="utf-8") for path in replays), project)


def test_plain_cookiecutter_render_updates_without_cruft_link(
    tmp_path: Path, template_repo: tuple[Path, str]
) -> None:
    repo, _ = template_repo
    rendered = run_cookiecutter(tmp_path, template=str(repo))
    assert rendered.returncode == 0, rendered.stderr
    project = rendered.project
    commit_all(project, "generated")
    assert cruft(tmp_path, "check", cwd=project).returncode == 0

    new_commit = commit_template_fix(repo)
    updated = cruft(tmp_path, "update", "--skip-apply-ask", cwd=project)

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "- A template fix." in (project / "CHANGELOG.md").read_text(encoding="utf-8")
    assert json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["commit"] == new_commit
    assert sorted(project.rglob("*.rej")) == []


def test_render_from_a_git_url_records_the_url_and_the_checkout(
    tmp_path: Path, template_repo: tuple[Path, str]
) -> None:
    repo, first = template_repo
    commit_template_fix(repo)
    git(repo, "tag", "--annotate", "v9.9.9", first, "--message", "a release")
    # cookiecutter needs `git+` to know a file:// URL is a git repository.
    rendered = run_cookiecutter(
        tmp_path, extra_args=("--checkout", "v9.9.9"), template=f"git+file://{repo}"
    )
    assert rendered.returncode == 0, rendered.stderr

    state = json.loads((rendered.project / ".cruft.json").read_text(encoding="utf-8"))

    assert (state["template"], state["commit"], state["checkout"]) == (
        f"file://{repo}",
        first,
        "v9.9.9",
    )
    changelog = (rendered.project / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "- A template fix." not in changelog


def test_render_of_a_template_outside_git_has_no_cruft_file(tmp_path: Path) -> None:
    copy = tmp_path / "template-copy"
    shutil.copytree(TEMPLATE_DIR, copy, ignore=NOT_TEMPLATE)
    rendered = run_cookiecutter(tmp_path, template=str(copy))

    assert rendered.returncode == 0, rendered.stderr
    assert not (rendered.project / ".cruft.json").exists()
    assert f"No .cruft.json: the template ({copy}) is not a git checkout" in rendered.stdout
