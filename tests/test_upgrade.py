"""An upgrade across releases: a render of 0.2.0, edited as its user would, updated to now.

The template's history goes into a repository of the test's own: release 0.2.0 (from this
repository's tag, or found by its subject: CI's clean clone may carry no tags) as one
commit, this working tree as the next (so uncommitted template changes are what gets
tested). `cruft create --checkout v0.2.0` renders the old release; the user adds a
resource as that render's README says (test_recipe.py's steps, less the migration, which
needs the render installed) and commits; `cruft update` brings the project to now. Every
file the user did not touch must then be exactly what a fresh render of now holds: no
`.rej` file, no conflict marker, nothing of the update missing. No network: the
repositories are local and uv is kept off PATH, so no render asks the package index.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_cruft import NOT_TEMPLATE, commit_all, cruft, git
from test_recipe import APP, copy_and_edit

from helpers import TEMPLATE_DIR, path_without_uv, run_cookiecutter, write_cookiecutter_config

OLD_RELEASE = "v0.2.0"
OLD_RELEASE_SUBJECT = (
    "README: the template suite now takes about 12 minutes (349 tests, measured on a clean clone)"
)
OPTIONS = {"database": "sqlite", "use_redis": "yes", "use_docker": "yes"}
# Files no two renders share: the secrets, and cruft's record of its own commit.
PER_RENDER = {".env", ".cruft.json"}
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")
# What the old release's recipe adds and edits: its scope dependencies went into
# access/dependencies.py, where a render of now declares them in the resource's package.
NEW_FILES = {
    f"{APP}/projects/{name}"
    for name in ("__init__.py", "models.py", "schemas.py", "service.py", "router.py")
} | {"tests/test_projects.py"}
EDITED_FILES = {
    f"{APP}/security/scopes.py",
    f"{APP}/access/dependencies.py",
    f"{APP}/factory.py",
    f"{APP}/models.py",
    "tests/test_migrations.py",
}
# A line of each recipe edit, which the update must leave in its file.
EDITS = {
    f"{APP}/security/scopes.py": '"projects:write": _scope(',
    f"{APP}/access/dependencies.py": "ProjectsReader = Annotated[",
    f"{APP}/factory.py": "from .projects.router import router as projects_router",
    f"{APP}/models.py": "from .projects.models import Project",
    "tests/test_migrations.py": '"projects"',
}


def old_release_commit() -> str:
    """The commit of OLD_RELEASE in this repository: by its tag, else by its subject."""
    tagged = subprocess.run(  # noqa: S603 - fixed command, no shell
        ["git", "rev-parse", "--verify", "--quiet", f"{OLD_RELEASE}^{{commit}}"],  # noqa: S607
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if tagged.returncode == 0:
        return tagged.stdout.strip()
    by_subject = f"--grep={OLD_RELEASE_SUBJECT}"
    found = git(TEMPLATE_DIR, "log", "--format=%H", "--fixed-strings", by_subject)
    assert found, f"neither the tag {OLD_RELEASE} nor its commit is in this clone's history"
    return found.splitlines()[0]


@pytest.fixture
def template_history(tmp_path: Path) -> Path:
    """A template repository holding OLD_RELEASE (tagged) and, next, this working tree."""
    repo = tmp_path / "template"
    repo.mkdir()
    archive = subprocess.run(  # noqa: S603 - fixed command, no shell
        ["git", "archive", "--format=tar", old_release_commit()],  # noqa: S607
        cwd=TEMPLATE_DIR,
        capture_output=True,
        timeout=60,
        check=True,
    )
    subprocess.run(  # noqa: S603 - fixed command, no shell
        ["tar", "-x", "-C", str(repo)],  # noqa: S607
        input=archive.stdout,
        timeout=60,
        check=True,
    )
    commit_all(repo, f"release {OLD_RELEASE}")
    git(repo, "tag", "--annotate", OLD_RELEASE, "--message", OLD_RELEASE)
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(TEMPLATE_DIR, repo, ignore=NOT_TEMPLATE, dirs_exist_ok=True)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "now")
    return repo


def user_files(project: Path) -> dict[str, bytes]:
    """Every file of the project but git's own, by path."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def test_edited_old_release_updates_to_now_without_conflicts(
    tmp_path: Path, template_history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_without_uv())
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    config = write_cookiecutter_config(tmp_path)
    answers = [f"--extra-context={json.dumps(OPTIONS)}"]
    created = cruft(
        tmp_path,
        "create",
        str(template_history),
        "--checkout",
        OLD_RELEASE,
        "--no-input",
        "--output-dir",
        str(output_dir),
        "--config-file",
        str(config),
        *answers,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    project = output_dir / "secure_api"
    commit_all(project, f"generated from {OLD_RELEASE}")

    def run_shell(code: str) -> None:
        subprocess.run(  # noqa: S603 - the README's own block, no shell of ours
            ["bash", "-euo", "pipefail", "-c", code],  # noqa: S607
            cwd=project,
            env={**os.environ, "PATH": path_without_uv()},
            timeout=120,
            check=True,
        )

    copy_and_edit(project, run_shell)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "Projects, as the README says")
    touched = NEW_FILES | EDITED_FILES
    resource = {path: content for path, content in user_files(project).items() if path in touched}

    updated = cruft(tmp_path, "update", "--skip-apply-ask", cwd=project)
    assert updated.returncode == 0, updated.stdout + updated.stderr

    fresh = run_cookiecutter(tmp_path / "fresh", OPTIONS, template=str(template_history))
    assert fresh.returncode == 0, fresh.stderr
    expected, after = user_files(fresh.project), user_files(project)
    untouched = (set(expected) | set(after)) - touched - PER_RENDER
    assert [path for path in after if path.endswith(".rej")] == []
    differing = sorted(path for path in untouched if expected.get(path) != after.get(path))
    assert differing == []
    conflicted = {
        path
        for path, content in after.items()
        if any(marker.encode() in content for marker in CONFLICT_MARKERS)
    }
    # Where the newer release changed the very lines the recipe edits (the router tuple,
    # the table lists), the three-way merge leaves markers for the user to settle, as
    # any merge would; never in a file the user left alone.
    assert conflicted <= EDITED_FILES, conflicted
    # The user's resource: the new package whole, and each edit still in its file.
    for path in NEW_FILES:
        assert after[path] == resource[path], path
    assert set(EDITS) == EDITED_FILES
    for path, line in EDITS.items():
        assert line in after[path].decode("utf-8"), path
    state = json.loads(after[".cruft.json"])
    assert state["commit"] == git(template_history, "rev-parse", "HEAD")
