"""A route's scopes are checked against the registry (security/scopes.py) where they are
declared: a misspelt scope stops the app from importing or starting, instead of
answering 403 to every caller, admins included."""

import importlib.util
import re
import sys
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI, Security

from {{ cookiecutter.project_slug }}.access.dependencies import (
    Principal,
    UnknownScopeError,
    authorize,
    authorize_bearer,
    require,
)
from {{ cookiecutter.project_slug }}.openapi import describe_security
from {{ cookiecutter.project_slug }}.security.scopes import ALL_SCOPES

KNOWN = ", ".join(sorted(ALL_SCOPES))
MISSPELT_ROUTE = """
from typing import Annotated

from fastapi import APIRouter

from {{ cookiecutter.project_slug }}.access.dependencies import Principal, require

router = APIRouter()


@router.get("/users-report")
async def report(principal: Annotated[Principal, require("users:raed")]) -> None:
    return None
"""


def test_a_module_declaring_a_misspelt_scope_fails_to_import(tmp_path: Path) -> None:
    path = tmp_path / "misspelt_routes.py"
    path.write_text(MISSPELT_ROUTE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("misspelt_routes", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(UnknownScopeError) as raised:
        spec.loader.exec_module(module)
    assert str(raised.value) == (
        f"require('users:raed') requires unknown scope 'users:raed'; "
        f"the scopes in security/scopes.py are {KNOWN}"
    )
    assert "misspelt_routes" not in sys.modules


def test_require_names_every_unknown_scope_and_refuses_even_with_api_key_false() -> None:
    with pytest.raises(UnknownScopeError, match=re.escape("'admn', 'users:wrte'")):
        require("users:read", "users:wrte", "admn", api_key=False)


def test_require_builds_one_dependency_on_authorize_or_authorize_bearer() -> None:
    with_key, without_key = require("users:read"), require("users:write", api_key=False)
    assert (with_key.dependency, with_key.scopes) == (authorize, ["users:read"])
    assert (without_key.dependency, without_key.scopes) == (authorize_bearer, ["users:write"])
    assert require(api_key=False).dependency is authorize_bearer


def test_a_scope_declared_by_hand_is_checked_when_the_app_starts() -> None:
    router = APIRouter()

    @router.post("/token")
    async def token() -> None:
        return None

    @router.get("/reports")
    async def reports(
        principal: Annotated[Principal, Security(authorize, scopes=["users:raed"])],
    ) -> None:
        return None

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    with pytest.raises(UnknownScopeError) as raised:
        describe_security(app, token_endpoint=token)
    assert str(raised.value) == (
        "['GET'] /api/v1/reports requires unknown scope 'users:raed'; "
        f"the scopes in security/scopes.py are {KNOWN}"
    )
