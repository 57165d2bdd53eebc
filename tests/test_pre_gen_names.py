"""The pre-gen hook refuses a slug that would shadow a dependency, and its list of those
names follows the generated project's pyproject.toml under every option.

The hook keeps the list itself rather than reading the template's pyproject.toml when it
runs: cookiecutter runs it from a temporary copy, in the output directory, and nothing it
is given leads back to the template for sure (cruft passes no `_repo_dir`, and
`_template` may be a URL). These tests make that list fail loudly when it drifts.
"""

import itertools
import json
import re
import runpy
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.hooks import run_script_with_context
from cookiecutter.prompt import prompt_for_config
from jinja2 import FileSystemLoader

from helpers import DEFAULT_SLUG, TEMPLATE_DIR, run_cookiecutter

HOOK = TEMPLATE_DIR / "hooks" / "pre_gen_project.py"
PYPROJECT = "{{cookiecutter.project_slug}}/pyproject.toml"
# A PEP 508 requirement starts with the distribution's name.
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# mypyc-compiled distributions ship a helper module named by a hash; no one picks that slug.
MYPYC_HELPER = re.compile(r"[0-9a-f]{20}__mypyc")
# Slugs the issue found rendering fine while the hook's list had drifted.
SLUGS_THAT_RENDERED = ("aiosmtplib", "fastapi_offline", "pip_audit")


def answers(**overrides: str) -> dict[str, Any]:
    """Cookiecutter's context for the template's default answers with `overrides`, as it
    builds it without prompting: choices take their first value, derived values render."""
    context = generate_context(
        context_file=str(TEMPLATE_DIR / "cookiecutter.json"), extra_context=overrides
    )
    return {"cookiecutter": prompt_for_config(context, no_input=True)}


def option_combinations() -> list[dict[str, str]]:
    """Every combination of the template's choice variables, as cookiecutter.json lists them."""
    variables = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    choices = {
        name: values
        for name, values in variables.items()
        if isinstance(values, list) and not name.startswith("_")
    }
    return [
        dict(zip(choices, combination, strict=True))
        for combination in itertools.product(*choices.values())
    ]


def load_hook() -> dict[str, Any]:
    """The hook's module globals, from the hook rendered as cookiecutter renders it (with
    the default answers); its `main` does not run."""
    context = answers()
    environment = StrictEnvironment(context=context, keep_trailing_newline=True)
    source = environment.from_string(HOOK.read_text(encoding="utf-8")).render(**context)
    with tempfile.TemporaryDirectory() as directory:
        rendered = Path(directory) / HOOK.name
        rendered.write_text(source, encoding="utf-8")
        return runpy.run_path(str(rendered))


def normalized(distribution: str) -> str:
    """The name as pip compares distributions (PEP 503), the form the hook's keys are in."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_distributions(pyproject: str) -> set[str]:
    """Every distribution a rendered pyproject.toml asks for: its dependencies, each
    optional extra and each dependency group (a group's include of another adds none)."""
    data = tomllib.loads(pyproject)
    project = data["project"]
    requirements: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for group in data.get("dependency-groups", {}).values():
        requirements += [entry for entry in group if isinstance(entry, str)]
    names = set()
    for requirement in requirements:
        name = REQUIREMENT_NAME.match(requirement)
        assert name is not None, f"no distribution name in {requirement!r}"
        names.add(normalized(name.group()))
    # A group may name the project itself, to include one of its extras.
    return names - {normalized(project["name"])}


def render_pyproject(options: dict[str, str]) -> str:
    """The project's pyproject.toml for `options`, rendered as cookiecutter renders a file
    of the project (post-gen leaves it alone)."""
    context = answers(**options)
    environment = StrictEnvironment(
        context=context, keep_trailing_newline=True, loader=FileSystemLoader(str(TEMPLATE_DIR))
    )
    return environment.get_template(PYPROJECT).render(**context)


HOOK_GLOBALS = load_hook()
DIRECT_DEPENDENCIES: dict[str, tuple[str, ...]] = HOOK_GLOBALS["DIRECT_DEPENDENCIES"]
TAKEN_NAMES: frozenset[str] = HOOK_GLOBALS["TAKEN_NAMES"]
SLUG_PATTERN: re.Pattern[str] = HOOK_GLOBALS["SLUG_PATTERN"]
IMPORT_NAMES = sorted({name for modules in DIRECT_DEPENDENCIES.values() for name in modules})
OPTION_COMBINATIONS = option_combinations()


def refusal(slug: str) -> str:
    return (
        f"ERROR: project_slug {slug!r} is the name of a package the project depends on, "
        "or of a module one installs, and would shadow it; choose another name."
    )


@pytest.fixture
def hook_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An output directory for the hook to run in; cookiecutter's rendered copy of the
    hook (a temporary file it leaves behind) is written under tmp_path too."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    workdir = tmp_path / "project"
    workdir.mkdir()
    return workdir


@pytest.mark.parametrize(
    "options", OPTION_COMBINATIONS, ids=["-".join(o.values()) for o in OPTION_COMBINATIONS]
)
def test_hook_lists_every_distribution_the_render_declares(options: dict[str, str]) -> None:
    missing = declared_distributions(render_pyproject(options)) - DIRECT_DEPENDENCIES.keys()

    assert not missing, f"add to DIRECT_DEPENDENCIES in {HOOK.name}, with import names: {missing}"


def test_hook_lists_no_distribution_that_no_render_declares() -> None:
    declared = set().union(
        *(declared_distributions(render_pyproject(o)) for o in OPTION_COMBINATIONS)
    )

    assert DIRECT_DEPENDENCIES.keys() - declared == set()


def test_hook_keys_are_normalized_distribution_names() -> None:
    assert all(normalized(name) == name for name in DIRECT_DEPENDENCIES)


@pytest.mark.parametrize("name", IMPORT_NAMES)
def test_slug_equal_to_a_dependency_import_name_is_refused_with_one_line(
    hook_workdir: Path, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    with pytest.raises(FailedHookException):
        run_script_with_context(str(HOOK), hook_workdir, answers(project_slug=name))

    assert capfd.readouterr().err.splitlines() == [refusal(name)]


def test_slug_named_like_no_dependency_passes_the_hook(
    hook_workdir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The control for the refusals above: the hook runs, and a free name passes."""
    run_script_with_context(str(HOOK), hook_workdir, answers(project_slug="inventory_api"))

    assert capfd.readouterr().err == ""


def test_distribution_names_are_refused_like_import_names() -> None:
    """A project named like a dependency's distribution would be taken for it by pip."""
    slugs = {name.replace("-", "_") for name in DIRECT_DEPENDENCIES}

    assert slugs <= TAKEN_NAMES


@pytest.mark.parametrize("slug", SLUGS_THAT_RENDERED)
def test_slug_that_used_to_render_is_refused_and_leaves_nothing(tmp_path: Path, slug: str) -> None:
    run = run_cookiecutter(tmp_path, {"project_slug": slug})

    assert run.returncode != 0
    assert [line for line in run.stderr.splitlines() if "project_slug" in line] == [refusal(slug)]
    assert list(run.output_dir.iterdir()) == []


def test_every_module_the_default_render_installs_is_refused(default_render_python: Path) -> None:
    """The hook's indirect names cover what the runtime dependencies bring in turn."""
    script = (
        "import importlib.metadata, json; print(json.dumps("
        "{name: sorted(set(dists)) for name, dists in "
        "importlib.metadata.packages_distributions().items()}))"
    )
    listed = subprocess.run(  # noqa: S603 - fixed command, no shell
        [str(default_render_python), "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules: dict[str, list[str]] = json.loads(listed.stdout)
    names = set(modules) | {
        normalized(dist).replace("-", "_") for dists in modules.values() for dist in dists
    }
    names.discard(DEFAULT_SLUG)
    # Lower case, as the hook compares a slug (pyOpenSSL installs `OpenSSL`).
    possible_slugs = {
        name.lower()
        for name in names
        if SLUG_PATTERN.fullmatch(name) and not MYPYC_HELPER.fullmatch(name)
    }

    assert possible_slugs - TAKEN_NAMES == set()
