"""Fixtures for the template tests."""

from pathlib import Path
from typing import Any

import pytest
from live_app import install_default_render

from helpers import TEMPLATE_DIR


@pytest.fixture
def bake(cookies: Any) -> Any:
    """pytest-cookies' `cookies.bake`, always pointed at this repository's template."""

    def _bake(**context: str) -> Any:
        return cookies.bake(extra_context=context, template=str(TEMPLATE_DIR))

    return _bake


@pytest.fixture(scope="session")
def default_render_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default render, installed once per test process; the Python of its venv."""
    return install_default_render(tmp_path_factory.mktemp("default-render"))


# The modules that build and test whole renders, longest first: xdist (--dist loadscope)
# hands scopes to its workers in collection order, and the long ones started last would
# keep one worker busy while the other waits.
LONG_FIRST = ("test_generated_suite.py", "test_remove_example.py", "test_dependency_floors.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)
