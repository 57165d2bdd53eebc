"""The app's packages import each other one way only: no two of them in a circle.

Each top-level package or module of the app (`auth`, `users`, `security`, `config.py`,
...) is a node; an import from one into another is an arrow. A circle would mean two
parts that cannot be understood, tested or replaced apart. Imports are read from the
source with `ast`, so a new module is checked without being listed anywhere.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import {{ cookiecutter.project_slug }}

PACKAGE_DIR = Path({{ cookiecutter.project_slug }}.__file__).parent
PACKAGE = PACKAGE_DIR.name


def _part_of(module: str) -> str | None:
    """The top-level part of the app a dotted module name belongs to, if any."""
    parts = module.split(".")
    return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else None


def _imports(path: Path) -> Iterator[str]:
    """The absolute names of the app's modules that `path` imports."""
    module = ".".join((PACKAGE, *path.relative_to(PACKAGE_DIR).with_suffix("").parts))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        if "migrations" in path.relative_to(PACKAGE_DIR).parts:
            continue
        source = _part_of(".".join((PACKAGE, *path.relative_to(PACKAGE_DIR).parts)))
        if source is None:
            continue
        source = source.removesuffix(".py")
        for target in filter(None, map(_part_of, _imports(path))):
            if target != source:
                graph.setdefault(source, set()).add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of arrows in `graph`, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_apps_packages_import_each_other_one_way() -> None:
    graph = _graph()
    assert graph, "no imports found: the test reads the wrong directory"
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph) or [])}"


def test_security_is_a_leaf() -> None:
    assert _graph().get("security", set()) <= {"security"}


def test_a_circle_would_be_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
