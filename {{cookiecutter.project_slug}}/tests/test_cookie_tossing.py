"""A session cookie name sent twice is refused (401), never resolved by order.

A page on a sibling subdomain can set a cookie for the parent domain; the browser then
sends both the victim's cookie and the tossed one. Whichever the server kept, a script
could log the victim in to the attacker's account. The headers are sent raw here: a
cookie jar would keep one value per name.
"""

from typing import Any

from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.cookies import CookiePolicy
from {{ cookiecutter.project_slug }}.services import Services

from .conftest import PASSWORD, UserFactory

LOGIN_URL = "/api/v1/auth/cookie/login"
REFRESH_URL = "/api/v1/auth/cookie/refresh"
LOGOUT_URL = "/api/v1/auth/cookie/logout"
ME_URL = "/api/v1/users/me"
DUPLICATE = {"detail": "A session cookie was sent more than once"}


def _policy(services: Services) -> CookiePolicy:
    assert services.cookies is not None
    return services.cookies


async def _browser_session(client: AsyncClient, username: str) -> dict[str, Any]:
    """The session's three cookie values and CSRF token; the client's jar left empty."""
    response = await client.post(LOGIN_URL, data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    session = {**dict(client.cookies), "csrf": response.json()["csrf_token"]}
    client.cookies.clear()
    return session


def _cookie_header(*pairs: tuple[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in pairs)


async def test_an_access_cookie_sent_twice_is_refused_on_a_protected_route(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    policy = _policy(services)
    victim, attacker = await make_user(), await make_user()
    mine = await _browser_session(client, victim.username)
    tossed = await _browser_session(client, attacker.username)
    own = (policy.access.name, mine[policy.access.name])
    planted = (policy.access.name, tossed[policy.access.name])
    alone = await client.get(ME_URL, headers={"cookie": _cookie_header(own)})
    assert alone.status_code == 200
    assert alone.json()["username"] == victim.username
    for pairs in ((planted, own), (own, planted)):
        response = await client.get(ME_URL, headers={"cookie": _cookie_header(*pairs)})
        assert response.status_code == 401
        assert response.json() == DUPLICATE
        assert response.headers["www-authenticate"] == "Bearer"
    # Two Cookie headers (as HTTP/2 may send them) are read together.
    split = await client.get(
        ME_URL,
        headers=[("cookie", _cookie_header(own)), ("cookie", _cookie_header(planted))],
    )
    assert split.status_code == 401
    assert split.json() == DUPLICATE


async def test_a_csrf_cookie_sent_twice_is_refused_too(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    policy = _policy(services)
    user = await make_user()
    session = await _browser_session(client, user.username)
    cookie = _cookie_header(
        (policy.csrf.name, "tossed"),
        (policy.access.name, session[policy.access.name]),
        (policy.csrf.name, session["csrf"]),
    )
    response = await client.get(ME_URL, headers={"cookie": cookie})
    assert response.status_code == 401
    assert response.json() == DUPLICATE


async def test_refresh_and_logout_refuse_a_refresh_cookie_sent_twice(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    policy = _policy(services)
    victim, attacker = await make_user(), await make_user()
    mine = await _browser_session(client, victim.username)
    tossed = await _browser_session(client, attacker.username)
    csrf = {"X-CSRF-Token": mine["csrf"]}
    twice = _cookie_header(
        (policy.access.name, mine[policy.access.name]),
        (policy.refresh.name, tossed[policy.refresh.name]),
        (policy.refresh.name, mine[policy.refresh.name]),
    )
    for url in (REFRESH_URL, LOGOUT_URL):
        response = await client.post(url, headers={**csrf, "cookie": twice})
        assert response.status_code == 401, url
        assert response.json() == DUPLICATE
        assert "set-cookie" not in response.headers
    # Neither session was touched: the victim's own cookies still refresh and log out.
    once = _cookie_header(
        (policy.access.name, mine[policy.access.name]),
        (policy.refresh.name, mine[policy.refresh.name]),
    )
    refreshed = await client.post(REFRESH_URL, headers={**csrf, "cookie": once})
    assert refreshed.status_code == 200
    client.cookies.clear()
    access_twice = _cookie_header(
        (policy.access.name, tossed[policy.access.name]),
        (policy.access.name, refreshed.cookies[policy.access.name]),
    )
    refused = await client.post(LOGOUT_URL, headers={**csrf, "cookie": access_twice})
    assert refused.status_code == 401
    assert refused.json() == DUPLICATE
