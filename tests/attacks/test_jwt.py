"""Forged and broken JWTs are refused with 401, each for its own flaw."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .live import Account, LiveApp, bearer

CREDENTIALS_REFUSED = "Could not validate credentials"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Forge:
    """Tokens made from a real access token of `user` and the app's real signing key, so
    that each attack is refused for its own flaw and not for a bad signature."""

    token: str
    refresh_token: str
    key: str
    other_user_id: str

    @property
    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = json.loads(b64url_decode(self.token.split(".")[1]))
        return claims

    def signed(self, claims: dict[str, Any], key: str | None = None, alg: str = "HS256") -> str:
        digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = b64url(hmac.new((key or self.key).encode(), signing_input, digest).digest())
        return f"{header}.{payload}.{signature}"

    def unsigned(self, alg: str) -> str:
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        return f"{header}.{b64url(json.dumps(self.claims).encode())}."

    def with_claims(self, **changes: Any) -> str:
        return self.signed({**self.claims, **changes})

    def without_claim(self, name: str) -> str:
        return self.signed({key: value for key, value in self.claims.items() if key != name})

    def tampered_signature(self) -> str:
        header, payload, signature = self.token.split(".")
        flipped = bytearray(b64url_decode(signature))
        flipped[0] ^= 1
        return f"{header}.{payload}.{b64url(bytes(flipped))}"

    def tampered_payload(self) -> str:
        header, _, signature = self.token.split(".")
        payload = b64url(json.dumps({**self.claims, "sub": self.other_user_id}).encode())
        return f"{header}.{payload}.{signature}"


def in_an_hour() -> int:
    return int(time.time()) + 3600


JWT_ATTACKS: dict[str, Callable[[Forge], str]] = {
    "alg-none": lambda forge: forge.unsigned("none"),
    "alg-None": lambda forge: forge.unsigned("None"),
    "alg-NONE": lambda forge: forge.unsigned("NONE"),
    "alg-nOnE": lambda forge: forge.unsigned("nOnE"),
    "hs256-with-a-wrong-key": lambda forge: forge.signed(forge.claims, key="wrong" * 13),
    "hs512-with-the-real-key": lambda forge: forge.signed(forge.claims, alg="HS512"),
    "signature-stripped": lambda forge: forge.token.rsplit(".", 1)[0] + ".",
    "signature-and-dot-removed": lambda forge: forge.token.rsplit(".", 1)[0],
    "signature-tampered": lambda forge: forge.tampered_signature(),
    "payload-tampered": lambda forge: forge.tampered_payload(),
    "expired": lambda forge: forge.with_claims(exp=int(time.time()) - 60),
    "exp-missing": lambda forge: forge.without_claim("exp"),
    "nbf-in-the-future": lambda forge: forge.with_claims(nbf=in_an_hour()),
    "iat-in-the-future": lambda forge: forge.with_claims(iat=in_an_hour()),
    "refresh-token-as-access-token": lambda forge: forge.refresh_token,
    "type-refresh": lambda forge: forge.with_claims(type="refresh"),
    "unknown-subject": lambda forge: forge.with_claims(sub=str(uuid.uuid4())),
    "unknown-session": lambda forge: forge.with_claims(sid=str(uuid.uuid4())),
    "wrong-audience": lambda forge: forge.with_claims(aud="another-api"),
    "wrong-issuer": lambda forge: forge.with_claims(iss="someone-else"),
    "empty": lambda forge: "",
    "huge": lambda forge: forge.with_claims(padding="x" * 100_000),
}


@pytest.fixture(scope="module")
def forge(live_app: LiveApp, alice: Account, bob: Account) -> Forge:
    return Forge(
        token=alice.tokens["access_token"],
        refresh_token=alice.tokens["refresh_token"],
        key=live_app.secret_key,
        other_user_id=bob.id,
    )


def test_token_rebuilt_with_the_real_key_is_accepted(http: httpx.Client, forge: Forge) -> None:
    """The control for the attacks below: the forge itself makes valid tokens."""
    response = http.get("/users/me", headers=bearer(forge.with_claims()))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("attack", JWT_ATTACKS.values(), ids=JWT_ATTACKS.keys())
def test_jwt_attack_is_401(
    http: httpx.Client, forge: Forge, attack: Callable[[Forge], str]
) -> None:
    response = http.get("/users/me", headers=bearer(attack(forge)))

    assert response.status_code == 401, response.text
    assert response.json() == {"detail": CREDENTIALS_REFUSED}
    assert response.headers["www-authenticate"].startswith("Bearer")
