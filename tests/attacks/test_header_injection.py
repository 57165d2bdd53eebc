"""Header injection reaches no response header; request IDs and Host are checked."""

import re
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from .live import API, LiveApp

GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def raw_exchange(url: str, request: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send bytes no HTTP client library would, and read the whole answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = [
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    ]
    return int(status_line.split()[1]), headers, body


def health_request(extra_header: bytes) -> bytes:
    return (
        f"GET {API}/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        + extra_header
        + b"\r\n\r\n"
    )


# (raw header line, status): uvicorn refuses a malformed header line before the app sees
# it; a CRLF ends the line, so what follows is another request header and never reaches
# the response.
HEADER_INJECTIONS = {
    "crlf-in-request-id": (b"X-Request-ID: abc\r\nSet-Cookie: evil=1", 200),
    "bare-lf-in-request-id": (b"X-Request-ID: abc\nSet-Cookie: evil=1", 400),
    "bare-cr-in-request-id": (b"X-Request-ID: abc\rSet-Cookie: evil=1", 400),
    "nul-in-request-id": (b"X-Request-ID: abc\x00Set-Cookie: evil=1", 400),
    "obs-fold-continuation": (b"X-Request-ID: abc\r\n Set-Cookie: evil=1", 400),
    "cr-in-authorization": (b"Authorization: Bearer abc\rSet-Cookie: evil=1", 400),
}


@pytest.mark.parametrize("case", HEADER_INJECTIONS.values(), ids=HEADER_INJECTIONS.keys())
def test_header_injection_reaches_no_response_header(
    live_app: LiveApp, case: tuple[bytes, int]
) -> None:
    header, status = case

    answered, headers, _ = raw_exchange(live_app.url, health_request(header))

    assert answered == status
    assert "set-cookie" not in {name for name, _ in headers}
    assert all("evil" not in value for _, value in headers)
    if status == 200:
        assert ("x-request-id", "abc") in headers


@pytest.mark.parametrize(
    "request_id",
    ["<script>alert(1)</script>", "a" * 65, "two words", "abc%0d%0aSet-Cookie:%20evil=1", ""],
    ids=["markup", "too-long", "space", "encoded-crlf", "empty"],
)
def test_insane_request_id_is_replaced(http: httpx.Client, request_id: str) -> None:
    response = http.get("/health", headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    assert GENERATED_REQUEST_ID.fullmatch(response.headers["x-request-id"])


def test_sane_request_id_is_kept(http: httpx.Client) -> None:
    response = http.get("/health", headers={"X-Request-ID": "trace-42.a_b"})

    assert response.headers["x-request-id"] == "trace-42.a_b"


def test_foreign_host_header_is_400(http: httpx.Client) -> None:
    response = http.get("/health", headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid host header"}
