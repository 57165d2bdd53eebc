"""The hooks: bad answers are refused cleanly, and secrets are fresh, private and unseen."""

import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
from uv import find_uv_bin

from helpers import SECRET_NAMES, CookiecutterRun, path_without_uv, read_env, run_cookiecutter


def assert_refused(run_stderr: str, field: str) -> None:
    """Exactly one line of the error output names `field`: the hook's own sentence."""
    lines = [line for line in run_stderr.splitlines() if field in line]
    assert len(lines) == 1, run_stderr
    assert lines[0].startswith(f"ERROR: {field} "), run_stderr
    assert "Traceback" not in run_stderr.split(lines[0])[0], run_stderr


@pytest.mark.parametrize(
    "slug",
    ["1abc", "my-app", "class", "json", "fastapi", "sqlalchemy", "Sys", "tests", "my_app_"],
)
def test_bad_project_slug_is_refused_and_leaves_nothing(tmp_path: Path, slug: str) -> None:
    run = run_cookiecutter(tmp_path, {"project_slug": slug})

    assert run.returncode != 0
    assert_refused(run.stderr, "project_slug")
    assert list(run.output_dir.iterdir()) == []


@pytest.mark.parametrize("slug", ['my"app', "my'''app", 'x\\"\n'])
def test_quotes_in_project_slug_cannot_break_the_hook(tmp_path: Path, slug: str) -> None:
    run = run_cookiecutter(tmp_path, {"project_slug": slug})

    assert run.returncode != 0
    assert "SyntaxError" not in run.stderr
    assert_refused(run.stderr, "project_slug")
    assert list(run.output_dir.iterdir()) == []


@pytest.mark.parametrize(
    "email", ["nope", "a@b", "a b@c.com", "@example.com", "a@b@c.com", 'a"b@c.com', "a@.com"]
)
def test_bad_author_email_is_refused_and_leaves_nothing(tmp_path: Path, email: str) -> None:
    run = run_cookiecutter(tmp_path, {"author_email": email})

    assert run.returncode != 0
    assert_refused(run.stderr, "author_email")
    assert list(run.output_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_name", 'The "Best" API'),
        ("description", "Ends in a backslash \\"),
        ("author_name", 'Ann "A." Smith'),
        ("description", ""),
        ("author_name", "   "),
    ],
)
def test_unsafe_free_text_is_refused(tmp_path: Path, field: str, value: str) -> None:
    run = run_cookiecutter(tmp_path, {"project_slug": "my_api", field: value})

    assert run.returncode != 0
    assert_refused(run.stderr, field)
    assert list(run.output_dir.iterdir()) == []


@pytest.mark.parametrize("email", ["you@example.com", "first.last+api@mail.example.org"])
def test_sane_author_email_is_accepted(tmp_path: Path, email: str) -> None:
    run = run_cookiecutter(tmp_path, {"author_email": email})

    assert run.returncode == 0, run.stderr


@pytest.fixture
def default_render(tmp_path: Path) -> CookiecutterRun:
    run = run_cookiecutter(tmp_path)
    assert run.returncode == 0, run.stderr
    return run


def test_env_file_is_private(default_render: CookiecutterRun) -> None:
    project = default_render.project

    mode = stat.S_IMODE((project / ".env").stat().st_mode)

    assert mode == 0o600, oct(mode)


def test_env_file_holds_generated_secrets(default_render: CookiecutterRun) -> None:
    project = default_render.project
    env = read_env(project / ".env")
    example = read_env(project / ".env.example")

    assert len(env["SECRET_KEY"]) >= 64
    for name in SECRET_NAMES:
        assert env[name] not in ("", "changeme"), name
        assert len(env[name]) >= 32, name
    # Everything else is copied from the example unchanged.
    assert {k: v for k, v in env.items() if k not in SECRET_NAMES} == {
        k: v for k, v in example.items() if k not in SECRET_NAMES
    }


def test_two_renders_share_no_secret(tmp_path: Path) -> None:
    first = run_cookiecutter(tmp_path / "first")
    second = run_cookiecutter(tmp_path / "second")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr

    first_secrets = {read_env(first.project / ".env")[name] for name in SECRET_NAMES}
    second_secrets = {read_env(second.project / ".env")[name] for name in SECRET_NAMES}

    assert len(first_secrets) == len(second_secrets) == len(SECRET_NAMES)
    assert first_secrets.isdisjoint(second_secrets)


def test_secrets_are_not_in_replay_file_or_output(
    default_render: CookiecutterRun,
) -> None:
    project, output = default_render.project, default_render.stdout + default_render.stderr
    env = read_env(project / ".env")
    replay_files = [path for path in default_render.replay_dir.rglob("*") if path.is_file()]
    assert replay_files, "cookiecutter wrote no replay file where the config said"
    replayed = "".join(path.read_text(encoding="utf-8") for path in replay_files)

    for name in SECRET_NAMES:
        assert env[name] not in replayed, name
        assert env[name] not in output, name


def test_next_steps_say_where_docs_and_credentials_are(
    default_render: CookiecutterRun,
) -> None:
    output = default_render.stdout

    assert "python -m secure_api" in output
    assert "http://127.0.0.1:8000/docs" in output
    for name in ("DOCS_USERNAME", "DOCS_PASSWORD", "FIRST_ADMIN_USERNAME", "FIRST_ADMIN_PASSWORD"):
        assert name in output


def test_env_file_is_git_ignored(default_render: CookiecutterRun) -> None:
    project = default_render.project
    # Only the render's own .gitignore may count, not the user's global excludes.
    git_env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(  # noqa: S603
        ["git", "init", "--quiet", str(project)],  # noqa: S607
        check=True,
        timeout=60,
        env=git_env,
    )

    ignored = subprocess.run(
        ["git", "check-ignore", "--verbose", ".env"],  # noqa: S607
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env=git_env,
        check=False,
    )

    assert ignored.returncode == 0, "the render's .gitignore does not ignore .env"
    assert ignored.stdout.startswith(".gitignore:"), ignored.stdout


def test_rerender_over_a_project_keeps_its_env_file(tmp_path: Path) -> None:
    first = run_cookiecutter(tmp_path)
    assert first.returncode == 0, first.stderr
    before = (first.project / ".env").read_text(encoding="utf-8")

    again = run_cookiecutter(tmp_path, extra_args=("--overwrite-if-exists",))

    assert again.returncode == 0, again.stderr
    assert (first.project / ".env").read_text(encoding="utf-8") == before


def test_postgres_with_docker_gets_a_generated_database_password(tmp_path: Path) -> None:
    run = run_cookiecutter(tmp_path, {"database": "postgresql", "use_docker": "yes"})
    assert run.returncode == 0, run.stderr

    password = read_env(run.project / ".env").get("POSTGRES_PASSWORD", "")

    assert len(password) >= 32
    assert password not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "options",
    [{"database": "sqlite", "use_docker": "yes"}, {"database": "postgresql", "use_docker": "no"}],
)
def test_no_database_password_without_a_compose_database(
    tmp_path: Path, options: dict[str, str]
) -> None:
    run = run_cookiecutter(tmp_path, options)
    assert run.returncode == 0, run.stderr

    assert "POSTGRES_PASSWORD" not in read_env(run.project / ".env")


def test_render_with_uv_on_path_gets_a_lock_matching_its_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = find_uv_bin()
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(uv).parent), path_without_uv()]))

    run = run_cookiecutter(tmp_path)

    assert run.returncode == 0, run.stderr
    # `uv lock` asks the package index: without it the hook says so and this fails here.
    assert "uv.lock pins every dependency" in run.stdout, run.stdout
    check = subprocess.run(  # noqa: S603 - fixed command, no shell
        [uv, "lock", "--check", "--offline"],
        cwd=run.project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    locked = tomllib.loads((run.project / "uv.lock").read_text(encoding="utf-8"))
    assert {"secure-api", "fastapi", "pytest"} <= {package["name"] for package in locked["package"]}


def test_render_without_uv_succeeds_and_says_there_is_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_without_uv())

    run = run_cookiecutter(tmp_path)

    assert run.returncode == 0, run.stderr
    assert not (run.project / "uv.lock").exists()
    notes = [line for line in run.stdout.splitlines() if "uv.lock" in line]
    assert notes == [
        "uv.lock was not made: uv is not on PATH (pip works too; `uv lock` makes it later)."
    ]


# What the post-gen hook keeps only in a render with organizations.
TENANCY_PATHS = (
    "src/secure_api/tenancy",
    "src/secure_api/organizations",
    "src/secure_api/migrations/versions/0005a_organizations.py",
    "tests/organizations.py",
    "tests/test_organizations.py",
    "tests/test_invitations.py",
    "docs/organizations.md",
)


@pytest.mark.parametrize("multi_tenancy", ["no", "yes"])
def test_tenancy_files_exist_only_when_chosen(tmp_path: Path, multi_tenancy: str) -> None:
    run = run_cookiecutter(tmp_path, {"multi_tenancy": multi_tenancy})
    assert run.returncode == 0, run.stderr

    present = [path for path in TENANCY_PATHS if (run.project / path).exists()]

    assert present == (list(TENANCY_PATHS) if multi_tenancy == "yes" else [])
