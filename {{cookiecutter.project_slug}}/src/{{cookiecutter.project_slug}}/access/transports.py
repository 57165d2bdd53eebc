"""Where a credential travels: one small resolver per way in, like fastapi-users' transports.

Each reads its credential off the request and says nothing about whether it is good
(access/strategies.py decides that). The cookie transport is the one with rules of its
own, because a browser sends cookies with every request, whichever page asked for it.
"""

from fastapi import HTTPException, Request, status

from ..security.cookies import CookiePolicy

API_KEY_HEADER = "X-API-Key"
FETCH_SITE_HEADER = "sec-fetch-site"
CROSS_SITE_REFUSED = "Cross-site cookie requests are not allowed"
ORIGIN_REFUSED = "Cookie requests from this origin are not allowed"
DUPLICATE_COOKIE_REFUSED = "A session cookie was sent more than once"


def bearer_header(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_key_header(request: Request) -> str | None:
    return request.headers.get(API_KEY_HEADER)


def session_cookie(request: Request, cookies: CookiePolicy | None) -> str | None:
    """The access token of a browser session, once the request passed the cookie rules
    (`check_cookie_request`). The CSRF token of an unsafe method is checked once the
    session is known (access/policy.py)."""
    if cookies is None:
        return None
    token = request.cookies.get(cookies.access.name)
    if not token:
        return None
    check_cookie_request(request, cookies)
    request.state.cookie_session = True
    return token


def check_cookie_request(request: Request, cookies: CookiePolicy) -> None:
    """The rules every request carrying a session cookie passes before any other work.

    403 if the browser says another site sent it (`Sec-Fetch-Site: cross-site`: an
    `<img>` or a form elsewhere, which may carry no `Origin`); 401 if a session cookie
    name comes twice (a sibling subdomain tossed in a cookie of its own, which would
    otherwise win or lose by order); 403 unless the origin is the API's own or a listed one.
    """
    refuse_cross_site(request)
    refuse_duplicate_cookies(request, cookies)
    check_cookie_origin(request, cookies)


def refuse_cross_site(request: Request) -> None:
    # Browsers send Sec-Fetch-Site with every request; its absence (an older browser, a
    # non-browser client) leaves the origin and CSRF checks in charge, as before.
    if request.headers.get(FETCH_SITE_HEADER, "").lower() == "cross-site":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=CROSS_SITE_REFUSED)


def refuse_duplicate_cookies(request: Request, cookies: CookiePolicy) -> None:
    """401 if the access, refresh or CSRF cookie's name comes more than once.

    Read from the raw `Cookie` headers: `request.cookies` keeps one value per name.
    """
    raw = [value.decode("latin-1") for key, value in request.scope["headers"] if key == b"cookie"]
    names = (cookies.access.name, cookies.refresh.name, cookies.csrf.name)
    # Cheapest test first: a name whose text appears once cannot be there twice.
    if all(sum(header.count(name) for header in raw) < 2 for name in names):
        return
    seen: set[str] = set()
    for header in raw:
        for pair in header.split(";"):
            name = pair.partition("=")[0].strip()
            if name in names:
                if name in seen:
                    raise HTTPException(
                        status_code=status.HTTP_401_UNAUTHORIZED,
                        detail=DUPLICATE_COOKIE_REFUSED,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                seen.add(name)


def check_cookie_origin(request: Request, cookies: CookiePolicy) -> None:
    """403 unless the request comes from the API's own origin or a listed one."""
    own_origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if not cookies.allows_origin(request.headers.get("origin"), own_origin):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=ORIGIN_REFUSED)
