"""The generated README's "Removing the example resource", followed to the letter.

On a fresh default render: the section's shell block runs as written; each line it names
inline ("In `file`, `line`") is deleted, each element ("`element` in `assignment`") is
taken out of that assignment, and the test it names is deleted; each is checked to be
what the section says, file included. The render then passes `make test` (the whole
suite, coverage enforced), mypy --strict, ruff and bandit, and nothing in `src` or
`tests` names the example any more.

"Names the example" is decided word by word: every case-insensitive `item` left must be
one of the generic words that never meant the example (`GENERIC`): a dict's `.items()`,
`popitem`, the `limits` library's `RateLimitItem`, Alembic's `render_item` hook, the
pagination envelope's `items` field (`items: list[T]`, `"items":`, `["items"]`), and
`item` as a comprehension's variable on a line that says `for item in`.

One virtualenv, installed once; the render's suite is the slow part, run once.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_generated_suite import INSTALL_TIMEOUT, LINT_TIMEOUT, RUN_TIMEOUT, run
from test_recipe import FENCE, words

from helpers import DEFAULT_SLUG, run_cookiecutter

SECTION_TITLE = "## Removing the example resource"
APP = f"src/{DEFAULT_SLUG}"
# Whole lines the section names inline, by the text that picks each out, and their files.
LINES = (
    ("security/scopes.py", '"items:read"'),
    ("security/scopes.py", '"items:write"'),
    ("factory.py", "from .items.router import router as items_router"),
    ("models.py", "from .items.models import Item"),
)
# (file, assignment, element) the section names inline as "`element` in `assignment`".
ELEMENTS = (
    ("factory.py", "protected", "items_router"),
    ("models.py", "__all__", '"Item"'),
    ("tests/test_migrations.py", "MODEL_TABLES", '"items"'),
)
TESTS = (
    ("tests/test_migrations.py", "test_items_migration_keeps_the_table_an_older_release_created"),
)
REMOVED = (f"{APP}/items", "tests/test_items.py", f"{APP}/migrations/versions/0006_items.py")
GENERIC = re.compile(
    r"\.items\(\)|popitem|RateLimitItem|render_item|\bitems: list\[|\"items\":|\[\"items\"\]"
)
COMPREHENSION = re.compile(r"\bfor item in\b")
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def removal_section(readme: str) -> str:
    start = readme.index(f"\n{SECTION_TITLE}\n")
    end = re.compile(r"\n#{2,3} ").search(readme, start + 1)
    return readme[start : end.start() if end else len(readme)]


def project_file(project: Path, file: str) -> Path:
    return project / file if file.startswith("tests/") else project / APP / file


def delete_line(path: Path, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    matches = [line for line in lines if text in line]
    assert len(matches) == 1, f"{path} should hold {text!r} on one line"
    lines.remove(matches[0])
    path.write_text("".join(lines), encoding="utf-8")


def delete_element(path: Path, assignment: str, element: str) -> None:
    """Take `element` (one per line, as these literals are formatted) out of `assignment`."""
    text = path.read_text(encoding="utf-8")
    pattern = rf"^\s*{re.escape(assignment)}\b[^=\n]*= [(\[{{].*?^\s*[)\]}}]$"
    statements = list(re.finditer(pattern, text, re.MULTILINE | re.DOTALL))
    assert len(statements) == 1, f"{path} should assign {assignment} once"
    statement = statements[0].group()
    line = re.compile(rf"^\s*{re.escape(element)},\n", re.MULTILINE)
    assert len(line.findall(statement)) == 1, f"{assignment} should hold {element} once"
    path.write_text(text.replace(statement, line.sub("", statement)), encoding="utf-8")


def delete_function(path: Path, name: str) -> None:
    """Delete the top-level function `name`, with the two blank lines before it."""
    text = path.read_text(encoding="utf-8")
    (function,) = [
        node
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
    ]
    lines = text.splitlines(keepends=True)
    first = function.lineno - 1 - len(function.decorator_list)
    assert lines[first - 2 : first] == ["\n", "\n"]
    del lines[first - 2 : function.end_lineno]
    path.write_text("".join(lines), encoding="utf-8")


def follow_removal(project: Path, venv: Path) -> None:
    section = removal_section((project / "README.md").read_text(encoding="utf-8"))
    prose = words(section)
    shell = [code for language, code in FENCE.findall(section) if language == "sh"]
    assert len(shell) == 1, "the section: one block to delete the files"
    run(["bash", "-euo", "pipefail", "-c", shell[0]], project, venv, LINT_TIMEOUT)
    for file, text in LINES:
        assert f"In `{file}`" in prose
        assert f"`{text}`" in prose
        delete_line(project_file(project, file), text)
    for file, assignment, element in ELEMENTS:
        assert f"In `{file}`" in prose
        assert f"`{element}` in `{assignment}`" in prose
        delete_element(project_file(project, file), assignment, element)
    for file, name in TESTS:
        assert f"In `{file}`" in prose
        assert f"the test `{name}`" in prose
        delete_function(project_file(project, file), name)


def example_mentions(project: Path) -> list[str]:
    """Every line of `src` and `tests` that says `item` other than as a generic word."""
    mentions = []
    for top in ("src", "tests"):
        for path in sorted((project / top).rglob("*")):
            parts = path.relative_to(project).parts
            if not path.is_file() or SKIPPED_PARTS.intersection(parts):
                continue
            if any(part.endswith(".egg-info") for part in parts):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                left = GENERIC.sub("", line)
                if COMPREHENSION.search(left):
                    left = re.sub(r"\bitem\b", "", left)
                if "item" in left.lower():
                    mentions.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    return mentions


@pytest.fixture(scope="module")
def removed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh default render after the removal, installed with its `[dev]` extra."""
    workdir = tmp_path_factory.mktemp("remove-example")
    rendered = run_cookiecutter(workdir)
    assert rendered.returncode == 0, rendered.stderr
    project, venv = rendered.project, workdir / "venv"
    assert example_mentions(project), "the check below must see the example before removal"
    subprocess.run(  # noqa: S603 - fixed command, no shell
        [sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT
    )
    pip_install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run([*pip_install, "-e", f"{project}[dev]"], project, venv, INSTALL_TIMEOUT)
    follow_removal(project, venv)
    return project, venv


def test_removal_deletes_the_example_and_nothing_names_it(removed: tuple[Path, Path]) -> None:
    project, _ = removed
    for path in REMOVED:
        assert not (project / path).exists(), path
    assert example_mentions(project) == []


def test_render_suite_passes_with_enforced_coverage(removed: tuple[Path, Path]) -> None:
    project, venv = removed
    command = ["make", "test", f"VENV={venv}"]
    output = run(command, project, venv, RUN_TIMEOUT)

    # The last summary line, "=== 618 passed in 90.12s ===": nothing failed or erred.
    summary = re.findall(r"^=+ (.*) in [\d.]+s", output, re.MULTILINE)[-1]
    assert re.search(r"Required test coverage of 9\d(\.\d+)?% reached", output), output[-2000:]
    assert re.match(r"\d+ passed", summary), summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary


@pytest.mark.parametrize(
    "command",
    [
        ["mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "src"],
        ["ruff", "check", "--no-cache", "."],
        ["ruff", "format", "--check", "--no-cache", "."],
        ["bandit", "-q", "-c", "pyproject.toml", "-r", "src"],
    ],
    ids=["mypy", "ruff-check", "ruff-format", "bandit"],
)
def test_render_passes_its_gates(removed: tuple[Path, Path], command: list[str]) -> None:
    project, venv = removed
    run([str(venv / "bin" / command[0]), *command[1:]], project, venv, LINT_TIMEOUT)
