"""CORS allows its one origin and refuses every other, and preflights asking for more."""

import httpx
import pytest

from .live import ALLOWED_ORIGIN, Account


def preflight(
    http: httpx.Client, origin: str, method: str = "GET", headers: str = "authorization"
) -> httpx.Response:
    return http.options(
        "/users/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_preflight_from_the_allowed_origin_is_allowed(http: httpx.Client) -> None:
    """The control for the refusals below: CORS is on, for one origin."""
    response = preflight(http, ALLOWED_ORIGIN)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.example",
        "http://app.example.com",
    ],
    ids=["foreign", "null", "lookalike-suffix", "plain-http"],
)
def test_preflight_from_another_origin_is_400_without_allow_origin(
    http: httpx.Client, origin: str
) -> None:
    response = preflight(http, origin)

    assert response.status_code == 400
    assert response.json() == {"detail": "Disallowed CORS origin"}
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "headers", "refusal"),
    [("PUT", "authorization", "method"), ("GET", "x-evil", "headers")],
    ids=["unlisted-method", "unlisted-header"],
)
def test_preflight_asking_for_more_is_400(
    http: httpx.Client, method: str, headers: str, refusal: str
) -> None:
    response = preflight(http, ALLOWED_ORIGIN, method, headers)

    assert response.status_code == 400
    assert response.json() == {"detail": f"Disallowed CORS {refusal}"}


@pytest.mark.parametrize("origin", ["https://evil.example", "null"], ids=["foreign", "null"])
def test_credentialed_read_from_another_origin_gets_no_allow_origin(
    http: httpx.Client, alice: Account, origin: str
) -> None:
    response = http.get("/users/me", headers={**alice.headers, "Origin": origin})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
