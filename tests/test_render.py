"""Every combination of options renders a clean project holding only what was chosen."""

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import Environment, StrictUndefined, UndefinedError

from helpers import (
    DEFAULT_SLUG,
    DOCKER_FILES,
    OPTION_MATRIX,
    TEMPLATE_DIR,
    matrix_id,
    read_env,
    settings_fields,
)

PROJECT_TEMPLATE = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
TEMPLATE_MARKERS = ("{{", "{%", "cookiecutter")
JINJA_EXPRESSION = re.compile(r"{{(.*?)}}", re.DOTALL)
# `${{ matrix.x }}` in a GitHub workflow is GitHub's own expression, kept by {% raw %}.
GITHUB_EXPRESSION = re.compile(r"\$\{\{ [\w.-]+ \}\}")
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9._-]+")


def text_files(project: Path) -> dict[Path, str]:
    """Every file of a render that decodes as UTF-8 text, binary files left out."""
    texts = {}
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def without_github_expressions(path: Path, text: str) -> str:
    """`text` less the GitHub expressions it holds, if `path` is a GitHub workflow."""
    if path.parent.name == "workflows" and path.parent.parent.name == ".github":
        return GITHUB_EXPRESSION.sub("", text)
    return text


def dependency_names(project: Path) -> set[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    names = set()
    for requirement in pyproject["project"]["dependencies"]:
        match = REQUIREMENT_NAME.match(requirement)
        assert match, requirement
        names.add(match.group().lower())
    return names


@pytest.fixture(params=OPTION_MATRIX, ids=matrix_id)
def render(request: pytest.FixtureRequest, bake: Any) -> tuple[Path, dict[str, str]]:
    """A render of one option combination: (project dir, cookiecutter context)."""
    result = bake(**request.param)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    return result.project_path, result.context


@pytest.fixture(
    params=[options for options in OPTION_MATRIX if options["use_docker"] == "yes"],
    ids=matrix_id,
)
def docker_render(request: pytest.FixtureRequest, bake: Any) -> tuple[Path, dict[str, str]]:
    """A render with the Docker files, for each choice of stores."""
    result = bake(**request.param)
    assert result.exception is None, result.exception
    return result.project_path, result.context


def test_default_render_is_named_secure_api(bake: Any) -> None:
    result = bake()

    assert result.exception is None, result.exception
    assert result.exit_code == 0
    assert result.project_path.name == DEFAULT_SLUG
    assert (result.project_path / "src" / DEFAULT_SLUG / "__init__.py").is_file()


def test_render_has_no_template_markers(render: tuple[Path, dict[str, str]]) -> None:
    project, _ = render
    leftovers = [
        f"{path.relative_to(project)}: {marker}"
        for path, text in text_files(project).items()
        # cruft's record of the template: its format keeps the answers under "cookiecutter".
        if path.name != ".cruft.json"
        for marker in TEMPLATE_MARKERS
        if marker in without_github_expressions(path, text).lower()
        or marker in str(path.relative_to(project))
    ]

    assert leftovers == []


def test_no_template_expression_renders_empty(render: tuple[Path, dict[str, str]]) -> None:
    _, context = render
    # Renders Python and TOML, never HTML: autoescape would corrupt them.
    environment = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701  # nosec B701
    empty = []
    for path in sorted(PROJECT_TEMPLATE.rglob("*")):
        sources = [str(path.relative_to(TEMPLATE_DIR))]
        if path.is_file():
            sources.append(path.read_text(encoding="utf-8", errors="replace"))
        for source in sources:
            for expression in JINJA_EXPRESSION.findall(source):
                try:
                    value = environment.from_string("{{" + expression + "}}").render(
                        cookiecutter=context
                    )
                except UndefinedError:
                    continue  # a loop variable, defined only inside its block
                if not value.strip():
                    empty.append(f"{path.relative_to(TEMPLATE_DIR)}: {{{{{expression}}}}}")

    assert empty == []


def test_docker_files_exist_only_when_chosen(render: tuple[Path, dict[str, str]]) -> None:
    project, context = render
    present = {name for name in DOCKER_FILES if (project / name).exists()}

    if context["use_docker"] == "yes":
        assert present == set(DOCKER_FILES)
    else:
        assert present == set()


def test_dependencies_follow_the_chosen_stores(render: tuple[Path, dict[str, str]]) -> None:
    project, context = render
    names = dependency_names(project)

    if context["database"] == "postgresql":
        assert "asyncpg" in names
        assert "aiosqlite" not in names
    else:
        assert "aiosqlite" in names
        assert "asyncpg" not in names
    assert ("redis" in names) == (context["use_redis"] == "yes")
    assert ("sentry-sdk" in names) == (context["use_sentry"] == "yes")
    opentelemetry = {name for name in names if name.startswith("opentelemetry-")}
    if context["use_opentelemetry"] == "yes":
        assert opentelemetry == {
            "opentelemetry-api",
            "opentelemetry-sdk",
            "opentelemetry-instrumentation-fastapi",
            "opentelemetry-exporter-otlp-proto-http",
        }
    else:
        assert opentelemetry == set()


# The page on error reports and traces: there while either observability option is.
OBSERVABILITY_PAGE = Path("docs") / "observability.md"
# Each observability option: its files, its settings, and words only its render holds.
OBSERVABILITY_OPTIONS = {
    "use_sentry": (("sentry.py", "test_sentry.py"), {"SENTRY_DSN"}, ("sentry",)),
    "use_opentelemetry": (
        ("tracing.py", "test_tracing.py"),
        {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"},
        ("opentelemetry", "otel_", "tracing"),
    ),
}


@pytest.mark.parametrize("option", OBSERVABILITY_OPTIONS)
def test_observability_option_is_all_there_or_not_mentioned(
    render: tuple[Path, dict[str, str]], option: str
) -> None:
    project, context = render
    (module, test), settings, words = OBSERVABILITY_OPTIONS[option]
    files = {project / "src" / DEFAULT_SLUG / module, project / "tests" / test}
    example = read_env(project / ".env.example")
    mentions = sorted(
        str(path.relative_to(project))
        for path, text in text_files(project).items()
        # Only cruft's record of the answers names every option.
        if path.name != ".cruft.json" and any(word in text.lower() for word in words)
    )

    if context[option] == "yes":
        assert all(path.is_file() for path in files)
        assert settings <= settings_fields(project)
        assert settings <= set(example)
        assert str(OBSERVABILITY_PAGE) in mentions
    else:
        assert not any(path.exists() for path in files)
        assert settings & settings_fields(project) == set()
        assert mentions == []
    chosen = [name for name in OBSERVABILITY_OPTIONS if context[name] == "yes"]
    assert (project / OBSERVABILITY_PAGE).is_file() == bool(chosen)


@pytest.mark.parametrize("jwt_library", ["python-jose", "pyjwt"])
def test_only_the_chosen_jwt_library_is_rendered(bake: Any, jwt_library: str) -> None:
    result = bake(jwt_library=jwt_library)
    assert result.exception is None, result.exception
    project = result.project_path
    security = project / "src" / DEFAULT_SLUG / "security"
    names = dependency_names(project)
    jose_mentions = [
        str(path.relative_to(project))
        for path, text in text_files(project).items()
        if "jose" in text.lower() or "jose" in str(path.relative_to(project)).lower()
    ]

    assert sorted(path.name for path in security.glob("jwt_library*")) == ["jwt_library.py"]
    if jwt_library == "pyjwt":
        assert "pyjwt" in names
        assert "python-jose" not in names
        assert jose_mentions == []
        assert "import jwt\n" in (security / "jwt_library.py").read_text(encoding="utf-8")
    else:
        assert "python-jose" in names
        assert "pyjwt" not in names
        assert "src/secure_api/security/jwt_library.py" in jose_mentions


def test_redis_code_exists_only_when_redis_is_chosen(render: tuple[Path, dict[str, str]]) -> None:
    project, context = render
    redis_module = project / "src" / "secure_api" / "redis_state.py"
    assert redis_module.exists() == (context["use_redis"] == "yes")
    redis_importers = [p for p in (project / "src").rglob("*.py") if "from redis" in p.read_text()]
    assert bool(redis_importers) == (context["use_redis"] == "yes")


# What only a Redis render may hold: the option's name and its setting, the error raised
# when the shared store does not answer and its handler, the readiness probe of the
# store, the fallback of rate limits while it is down, and prose about a shared store.
REDIS_ONLY_WORDS = re.compile(
    r"redis|AuthStateUnavailable|auth_state_unavailable|\bping\b|StorageError"
    r"|shared store|shared (auth|revocation) state",
    re.IGNORECASE,
)
# Not checked here: cruft's record of the answers names every option; the lock lists
# what dependencies could pull in. The README, the docs/ pages and the CHANGELOG are.
REDIS_WORDS_UNCHECKED = {".cruft.json", "uv.lock"}


def test_render_without_redis_holds_no_redis_only_code_settings_or_words(bake: Any) -> None:
    result = bake(use_redis="no", use_docker="yes")
    assert result.exception is None, result.exception
    project = result.project_path
    mentions = sorted(
        f"{path.relative_to(project)}: {match.group()}"
        for path, text in text_files(project).items()
        if path.name not in REDIS_WORDS_UNCHECKED
        for match in REDIS_ONLY_WORDS.finditer(text)
    )

    assert mentions == []
    assert "REDIS_URL" not in settings_fields(project)


# What only a render with passkeys may hold: the option's words, its library, settings,
# tables and routes.
PASSKEY_WORDS = re.compile(r"passkey|webauthn|relying party|0005b", re.IGNORECASE)
PASSKEY_FILES = (
    Path("src") / DEFAULT_SLUG / "passkeys" / "ceremonies.py",
    Path("src") / DEFAULT_SLUG / "account" / "passkeys_router.py",
    Path("src") / DEFAULT_SLUG / "auth" / "passkey_router.py",
    Path("src") / DEFAULT_SLUG / "migrations" / "versions" / "0005b_passkeys.py",
    Path("tests") / "test_passkeys_login.py",
    Path("tests") / "test_passkeys_registration.py",
    Path("docs") / "passkeys.md",
)
PASSKEY_SETTINGS = {"WEBAUTHN_RP_ID", "WEBAUTHN_ORIGINS"}


@pytest.mark.parametrize("passkeys", ["yes", "no"])
def test_passkeys_are_all_there_or_leave_no_trace(bake: Any, passkeys: str) -> None:
    result = bake(passkeys=passkeys)
    assert result.exception is None, result.exception
    project = result.project_path
    mentions = sorted(
        f"{path.relative_to(project)}: {match.group()}"
        for path, text in text_files(project).items()
        # cruft's record names every option; the lock lists what dependencies pull in.
        if path.name not in {".cruft.json", "uv.lock"}
        for match in PASSKEY_WORDS.finditer(text)
    )
    migration = project / "src" / DEFAULT_SLUG / "migrations" / "versions" / "0006_items.py"
    items_parent = re.search(r'^down_revision: .* = "(.*)"$', migration.read_text(), re.M)
    assert items_parent is not None

    if passkeys == "yes":
        assert all((project / path).is_file() for path in PASSKEY_FILES)
        assert "webauthn" in dependency_names(project)
        assert settings_fields(project) >= PASSKEY_SETTINGS
        assert set(read_env(project / ".env.example")) >= PASSKEY_SETTINGS
        assert items_parent.group(1) == "0005b"
    else:
        assert mentions == []
        assert not (project / "src" / DEFAULT_SLUG / "passkeys").exists()
        assert not any((project / path).exists() for path in PASSKEY_FILES)
        assert not (project / "tests" / "authenticator.py").exists()
        assert PASSKEY_SETTINGS & settings_fields(project) == set()
        assert items_parent.group(1) == "0005"


# What only a render with organizations may hold: the option's name, its tables, its
# words in code and prose (`org` the claim, not a domain's `.org`).
TENANCY_WORDS = re.compile(
    r"tenan|organi[sz]ation|membership|invitation|multi_tenancy|(?<![.\w])org\b",
    re.IGNORECASE,
)
TENANCY_WORDS_UNCHECKED = {".cruft.json", "uv.lock"}


def test_render_without_organizations_holds_no_trace_of_them(bake: Any) -> None:
    result = bake(multi_tenancy="no")
    assert result.exception is None, result.exception
    project = result.project_path
    mentions = sorted(
        f"{path.relative_to(project)}: {match.group()}"
        for path, text in text_files(project).items()
        if path.name not in TENANCY_WORDS_UNCHECKED
        for match in TENANCY_WORDS.finditer(f"{path.relative_to(project)}\n{text}")
    )

    assert mentions == []


def test_env_example_points_at_the_chosen_stores(render: tuple[Path, dict[str, str]]) -> None:
    project, context = render
    example = read_env(project / ".env.example")

    if context["database"] == "postgresql":
        assert example["DATABASE_URL"].startswith("postgresql+asyncpg://")
    else:
        assert example["DATABASE_URL"].startswith("sqlite+aiosqlite://")
    if context["use_redis"] == "yes":
        assert example["REDIS_URL"].startswith("redis://")
    else:
        assert "REDIS_URL" not in example


def test_compose_file_runs_the_chosen_services(
    docker_render: tuple[Path, dict[str, str]],
) -> None:
    project, context = docker_render
    compose = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    app = services["app"]
    expected = {"app", "mailpit"}
    if context["database"] == "postgresql":
        expected.add("db")
    if context["use_redis"] == "yes":
        expected.add("redis")

    assert set(services) == expected
    assert app["build"] == "."
    assert app["env_file"] == ".env"
    assert app["ports"] == ["127.0.0.1:8000:8000"]
    # Inside the container: the port is published on 127.0.0.1 only.
    assert app["environment"]["HOST"] == "0.0.0.0"  # noqa: S104  # nosec B104
    database_url = app["environment"]["DATABASE_URL"]
    if context["database"] == "postgresql":
        assert database_url.startswith("postgresql+asyncpg://postgres:${POSTGRES_PASSWORD")
        assert database_url.endswith(f"@db:5432/{DEFAULT_SLUG}")
        assert services["db"]["image"].startswith("postgres:16")
        assert "ports" not in services["db"]
        assert "alembic upgrade head" in " ".join(app["command"])
    else:
        assert database_url.startswith("sqlite+aiosqlite:////app/data/")
    if context["use_redis"] == "yes":
        assert app["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert "ports" not in services["redis"]
    else:
        assert "REDIS_URL" not in app["environment"]


def test_compose_sends_mail_to_mailpit(docker_render: tuple[Path, dict[str, str]]) -> None:
    project, _ = docker_render
    compose = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))
    app, mailpit = compose["services"]["app"], compose["services"]["mailpit"]
    image, _, tag = mailpit["image"].partition(":")
    operations = (project / "docs" / "operations.md").read_text(encoding="utf-8")

    assert image == "axllent/mailpit"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), "pin a release, never latest"
    assert app["environment"]["SMTP_HOST"] == "mailpit"
    assert app["environment"]["SMTP_PORT"] == 1025
    assert app["environment"]["SMTP_TLS"] == "false"
    assert app["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    # The UI on this machine only; SMTP is reached inside compose's network.
    assert mailpit["ports"] == ["127.0.0.1:8025:8025"]
    assert "http://localhost:8025" in operations
    # The production defaults stay as they were: only compose points at the catcher.
    assert read_env(project / ".env.example")["SMTP_HOST"] == ""


def test_mailpit_is_only_in_docker_renders(bake: Any) -> None:
    result = bake(use_docker="no")
    assert result.exception is None, result.exception
    project = result.project_path
    pages = [project / "README.md", *sorted((project / "docs").glob("*.md"))]

    assert [
        page.name for page in pages if "mailpit" in page.read_text(encoding="utf-8").lower()
    ] == []


def test_dockerfile_runs_unprivileged_without_secrets(
    docker_render: tuple[Path, dict[str, str]],
) -> None:
    project, _ = docker_render
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    runtime_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    instructions = [
        line.split(None, 1)[0] for line in runtime_stage.splitlines() if line[:1].isupper()
    ]

    workflow = yaml.safe_load(
        (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    )
    newest_tested = max(
        workflow["jobs"]["test"]["strategy"]["matrix"]["python-version"],
        key=lambda version: tuple(int(part) for part in version.split(".")),
    )
    assert dockerfile.count(f"FROM python:{newest_tested}-slim") == 2
    assert "USER app" in runtime_stage
    assert "HEALTHCHECK" in instructions
    assert "/api/v1/health" in runtime_stage
    assert f'CMD ["python", "-m", "{DEFAULT_SLUG}"]' in runtime_stage
    assert "HOST=0.0.0.0" in runtime_stage
    copies = [line for line in dockerfile.splitlines() if line.startswith(("COPY", "ADD"))]
    assert not [line for line in copies if ".env" in line]
    assert instructions.index("USER") < instructions.index("CMD")
    assert ".env" in (project / ".dockerignore").read_text(encoding="utf-8").split()


def test_apostrophes_in_free_text_keep_files_valid(bake: Any) -> None:
    result = bake(
        project_name="Bob's API",
        project_slug="bobs_api",
        description="It's the API's API.",
        author_name="Ann O'Brien",
    )
    assert result.exception is None, result.exception
    project = result.project_path

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == "It's the API's API."
    assert pyproject["project"]["authors"][0]["name"] == "Ann O'Brien"
    for path in project.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_environment_names_real_settings(
    docker_render: tuple[Path, dict[str, str]],
) -> None:
    project, _ = docker_render
    compose = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))
    environment = compose["services"]["app"]["environment"]

    # Settings ignore unknown names: a misspelt variable would be dropped without a word.
    assert set(environment) - settings_fields(project) == set()


def test_dockerignore_keeps_secrets_and_local_state_out(
    docker_render: tuple[Path, dict[str, str]],
) -> None:
    project, _ = docker_render
    ignored = (project / ".dockerignore").read_text(encoding="utf-8").split()

    for name in (".env", ".env.*", ".git", ".venv", "**/__pycache__", ".mypy_cache", ".ruff_cache"):
        assert name in ignored, name


def test_dockerfile_final_stage_has_no_build_tools(
    docker_render: tuple[Path, dict[str, str]],
) -> None:
    project, _ = docker_render
    runtime_stage = (project / "Dockerfile").read_text(encoding="utf-8").rsplit("\nFROM ", 1)[1]
    instructions = re.split(r"\n(?=[A-Z]+ )", runtime_stage)  # continuation lines stay joined
    run_words = {
        word
        for instruction in instructions
        if instruction.startswith("RUN ")
        for word in re.findall(r"[\w+.-]+", instruction)
    }
    users = [
        instruction.split()[1] for instruction in instructions if instruction.startswith("USER ")
    ]

    assert run_words.isdisjoint({"build-essential", "gcc", "g++", "clang", "make", "python3-dev"})
    assert users
    assert users[-1] not in {"root", "0"}


def test_ci_workflow_runs_every_gate_with_the_chosen_services(
    render: tuple[Path, dict[str, str]],
) -> None:
    project, context = render
    workflow = yaml.safe_load(
        (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    )
    jobs = workflow["jobs"]
    commands = [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]
    services = jobs["test"].get("services", {})
    expected = set()
    if context["database"] == "postgresql":
        expected.add("postgres")
    if context["use_redis"] == "yes":
        expected.add("redis")

    for gate in (
        "ruff check .",
        "ruff format --check .",
        "mypy --strict src",
        "bandit -c pyproject.toml -r src",
        "pytest",
    ):
        # A gate may take options (the test job runs pytest with coverage).
        assert any(command == gate or command.startswith(f"{gate} ") for command in commands), gate
    assert any(command.startswith("pip-audit") for command in commands)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert any(requirement.startswith("pip-audit") for requirement in dev)
    assert workflow["permissions"] == {"contents": "read"}
    assert set(services) == expected
    if "postgres" in services:
        assert services["postgres"]["image"] == "postgres:16"
        assert services["postgres"]["env"] == {"POSTGRES_HOST_AUTH_METHOD": "trust"}
        assert services["postgres"]["ports"] == ["5432:5432"]
    if "redis" in services:
        assert services["redis"]["image"] == "redis:7"
        assert services["redis"]["ports"] == ["6379:6379"]


def _template_reachable(step: dict[str, Any], project: Path, workdir: Path) -> str:
    """Run the CI step that decides whether `cruft check` runs; what it outputs."""
    output = workdir / "github-output"
    output.write_text("", encoding="utf-8")
    subprocess.run(  # noqa: S603 - fixed command, no shell
        ["bash", "-euo", "pipefail", "-c", step["run"]],  # noqa: S607
        cwd=project,
        env={**os.environ, **step["env"], "GITHUB_OUTPUT": str(output)},
        check=True,
        timeout=120,
        capture_output=True,
    )
    return output.read_text(encoding="utf-8")


def test_ci_runs_cruft_check_only_when_the_template_answers(bake: Any, tmp_path: Path) -> None:
    project = bake().project_path
    workflow = yaml.safe_load(
        (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    )
    steps = workflow["jobs"]["template"]["steps"]
    (reachability,) = [step for step in steps if step.get("id") == "template"]
    (check,) = [step for step in steps if step.get("run", "").startswith("uvx cruft")]
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))

    assert check["if"] == "steps.template.outputs.reachable == 'true'"
    assert re.fullmatch(r"uvx cruft==[\d.]+ check", check["run"])
    # Rendered from this repository, a git checkout: the template answers.
    assert state["template"] == str(TEMPLATE_DIR)
    assert _template_reachable(reachability, project, tmp_path) == "reachable=true\n"
    state["template"] = str(tmp_path / "gone")
    (project / ".cruft.json").write_text(json.dumps(state), encoding="utf-8")
    assert _template_reachable(reachability, project, tmp_path) == "reachable=false\n"
    (project / ".cruft.json").unlink()
    assert _template_reachable(reachability, project, tmp_path) == "reachable=false\n"


# `uses: owner/action@<full commit SHA> # v1.2.3`: a tag can be moved, a commit cannot.
PINNED_ACTION = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def test_ci_actions_are_pinned_to_commits_and_kept_current(bake: Any) -> None:
    project = bake().project_path
    workflow = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    uses = [line for line in workflow.splitlines() if "uses:" in line]
    dependabot = yaml.safe_load(
        (project / ".github" / "dependabot.yml").read_text(encoding="utf-8")
    )

    assert uses
    assert [line for line in uses if not PINNED_ACTION.match(line)] == []
    assert {update["package-ecosystem"] for update in dependabot["updates"]} == {
        "uv",
        "github-actions",
    }


def test_ci_tests_every_supported_python_with_the_lock_and_at_the_lower_bounds(
    bake: Any,
) -> None:
    project = bake().project_path
    workflow = yaml.safe_load(
        (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    test_job = workflow["jobs"]["test"]
    matrix = test_job["strategy"]["matrix"]
    install = next(
        step["run"] for step in test_job["steps"] if "uv sync --locked" in step.get("run", "")
    )

    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert matrix["python-version"] == ["3.11", "3.12", "3.13", "3.14"]
    assert matrix["include"] == [{"python-version": "3.11", "dependencies": "lowest-direct"}]
    assert 'uv pip install --resolution lowest-direct -e ".[dev]"' in install
    for job in ("lint", "audit"):
        commands = [step.get("run", "") for step in workflow["jobs"][job]["steps"]]
        assert any("uv sync --locked" in command for command in commands), job


def test_coverage_is_enforced_by_make_test_and_ci_not_by_every_pytest_run(
    render: tuple[Path, dict[str, str]],
) -> None:
    project, _ = render
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    tools = pyproject["tool"]
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    ci_runs = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    coverage = "pytest --cov --cov-report=term-missing:skip-covered"

    assert "--cov" not in tools["pytest"]["ini_options"]["addopts"]
    assert f"\ntest:\n\t$(BIN)/python -m {coverage}\n" in makefile
    assert coverage in ci_runs
    assert tools["coverage"]["report"]["fail_under"] >= 90
    assert tools["coverage"]["run"]["branch"] is True
    assert any(requirement.startswith("pytest-cov") for requirement in dev)


def test_makefile_targets_are_valid_make(bake: Any) -> None:
    project = bake().project_path
    targets = ("install", "run", "test", "lint", "format", "migrate", "audit", "create-admin")

    for target in targets:
        completed = subprocess.run(  # noqa: S603 - fixed command, no shell
            ["make", "--dry-run", target, "USERNAME=alice", "EMAIL=alice@example.com"],  # noqa: S607
            cwd=project,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert completed.returncode == 0, f"make {target}: {completed.stderr}"
        assert completed.stdout.strip(), target


def test_pre_commit_refuses_env_files_and_runs_the_gates(bake: Any) -> None:
    project = bake().project_path
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    env_guard = hooks["no-env-file"]

    def refused(path: str) -> bool:
        return bool(re.search(env_guard["files"], path)) and not re.search(
            env_guard["exclude"], path
        )

    assert {"ruff-check", "ruff-format", "mypy", "bandit"} <= set(hooks)
    assert {"detect-private-key", "check-added-large-files"} <= set(hooks)
    assert env_guard["language"] == "fail"
    assert [path for path in (".env", "deploy/.env", ".env.production") if not refused(path)] == []
    assert [path for path in (".env.example", "environment.py", "x.env.md") if refused(path)] == []


def test_changelog_starts_unreleased(bake: Any) -> None:
    changelog = (bake().project_path / "CHANGELOG.md").read_text(encoding="utf-8")

    assert changelog.startswith("# Changelog\n")
    assert "Keep a Changelog" in changelog
    assert "## [Unreleased]" in changelog


# The README is for day one: what the project is, its commands, the recipes, the layout.
README_MAX_LINES = 300
# `[text](target)`, where the target is a file of the render, with or without an anchor.
MARKDOWN_LINK = re.compile(
    r"\]\((?!https?://|mailto:)(?P<path>[^)#\s]*)(?:#(?P<anchor>[^)\s]+))?\)"
)
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
HEADING = re.compile(r"^#{1,6} (?P<title>.+)$", re.MULTILINE)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings (code blocks hold no headings)."""
    anchors = set()
    for match in HEADING.finditer(FENCE.sub("", markdown)):
        title = re.sub(r"[^\w\- ]", "", match["title"].strip().lower())
        anchors.add(title.replace(" ", "-"))
    return anchors


def link_resolves(project: Path, page: Path, link: re.Match[str]) -> bool:
    """Whether a link of `page` names a file of the render and, if any, one of its headings."""
    target = (page.parent / link["path"]).resolve() if link["path"] else page.resolve()
    if not target.is_file() or project.resolve() not in target.parents:
        return False
    return not link["anchor"] or link["anchor"] in heading_anchors(
        target.read_text(encoding="utf-8")
    )


def test_readme_is_short_and_its_links_lead_to_pages_of_the_render(
    render: tuple[Path, dict[str, str]],
) -> None:
    project, _ = render
    readme = project / "README.md"
    pages = [readme, *sorted((project / "docs").glob("*.md"))]
    broken = [
        f"{page.relative_to(project)}: {link.group()}"
        for page in pages
        for link in MARKDOWN_LINK.finditer(page.read_text(encoding="utf-8"))
        if not link_resolves(project, page, link)
    ]
    readme_text = readme.read_text(encoding="utf-8")
    linked = {
        (project / link["path"]).resolve()
        for link in MARKDOWN_LINK.finditer(readme_text)
        if link["path"].startswith("docs/")
    }

    assert len(readme_text.splitlines()) < README_MAX_LINES
    assert broken == []
    # Every page is reachable from the README.
    assert {page.resolve() for page in pages[1:]} == linked
