"""Fixtures for the template tests."""

from typing import Any

import pytest

from helpers import TEMPLATE_DIR


@pytest.fixture
def bake(cookies: Any) -> Any:
    """pytest-cookies' `cookies.bake`, always pointed at this repository's template."""

    def _bake(**context: str) -> Any:
        return cookies.bake(extra_context=context, template=str(TEMPLATE_DIR))

    return _bake
