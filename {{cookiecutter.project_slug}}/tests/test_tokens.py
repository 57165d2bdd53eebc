"""Access tokens: every forged, broken or stale token is refused the same way.

Tokens are forged by hand (HMAC and base64 only), so the same attacks run against
whichever JWT library the project was generated with.
"""

import base64
import hashlib
import hmac
import json
import math
import time
import uuid
from typing import Any

import pytest
from httpx import AsyncClient, Response

from {{ cookiecutter.project_slug }}.security.tokens import (
    MAX_TOKEN_LENGTH,
    MIN_KEY_LENGTH,
    AccessClaims,
    InvalidTokenError,
    TokenCodec,
)

from .conftest import TEST_SECRET_KEY, UserFactory, login

ME_URL = "/api/v1/users/me"
ISSUER = "{{ cookiecutter.project_slug }}"
AUDIENCE = "{{ cookiecutter.project_slug }}-api"
REJECTED = {"detail": "Could not validate credentials"}

Claims = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _decoded(segment: str) -> Claims:
    result: Claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return result


DIGESTS = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}


def _sign(
    claims: Claims,
    *,
    key: str = TEST_SECRET_KEY,
    algorithm: str = "HS256",
    header: Claims | None = None,
) -> str:
    """A compact JWS over `claims`, `header` added to the usual one."""
    full_header = {"alg": algorithm, "typ": "JWT", **(header or {})}
    signing_input = f"{_segment(full_header)}.{_segment(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), DIGESTS[algorithm]).digest()
    return f"{signing_input}.{_b64(signature)}"


def _unsigned(claims: Claims, alg: str) -> str:
    return f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}."


async def _me(client: AsyncClient, token: str) -> Response:
    return await client.get(ME_URL, headers={"Authorization": f"Bearer {token}"})


def _assert_rejected(response: Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == REJECTED
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
async def access_token(client: AsyncClient, make_user: UserFactory) -> str:
    user = await make_user()
    token: str = (await login(client, user.username))["access_token"]
    return token


@pytest.fixture
def claims(access_token: str) -> Claims:
    """The claims of a real token, to be mutated and re-signed by each attack."""
    return _decoded(access_token.split(".")[1])


# The control case: everything below differs from this in one respect only.


async def test_a_real_token_is_accepted(client: AsyncClient, access_token: str) -> None:
    response = await _me(client, access_token)
    assert response.status_code == 200, response.text


async def test_a_re_signed_copy_of_real_claims_is_accepted(
    client: AsyncClient, claims: Claims
) -> None:
    # Proves the forging helper itself is sound, so each rejection below is for its own reason.
    response = await _me(client, _sign(claims))
    assert response.status_code == 200, response.text


# Signature and algorithm.


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_unsigned_alg_none_token_is_rejected(
    client: AsyncClient, claims: Claims, alg: str
) -> None:
    _assert_rejected(await _me(client, _unsigned(claims, alg)))


async def test_token_signed_with_another_key_is_rejected(
    client: AsyncClient, claims: Claims
) -> None:
    _assert_rejected(await _me(client, _sign(claims, key="another-" + "k" * 56)))


async def test_token_signed_with_hs512_and_the_right_key_is_rejected(
    client: AsyncClient, claims: Claims
) -> None:
    _assert_rejected(await _me(client, _sign(claims, algorithm="HS512")))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", str(uuid.uuid4())), ("scope", "admin users:read users:write")],
)
async def test_tampered_payload_with_the_old_signature_is_rejected(
    client: AsyncClient, access_token: str, claims: Claims, claim: str, value: str
) -> None:
    header, _, signature = access_token.split(".")
    tampered = f"{header}.{_segment({**claims, claim: value})}.{signature}"
    _assert_rejected(await _me(client, tampered))


async def test_token_with_its_signature_stripped_is_rejected(
    client: AsyncClient, access_token: str
) -> None:
    header, payload, _ = access_token.split(".")
    _assert_rejected(await _me(client, f"{header}.{payload}."))
    _assert_rejected(await _me(client, f"{header}.{payload}"))


@pytest.mark.parametrize("padding", ["=", "==", "==="])
async def test_token_with_padding_appended_is_rejected(
    client: AsyncClient, access_token: str, padding: str
) -> None:
    # A lenient decoder reads a padded signature as the same bytes: one token, many spellings.
    assert (await _me(client, access_token)).status_code == 200
    _assert_rejected(await _me(client, access_token + padding))
    header, payload, signature = access_token.split(".")
    _assert_rejected(await _me(client, f"{header}{padding}.{payload}.{signature}"))


async def test_token_whose_last_character_has_unused_bits_set_is_rejected(
    client: AsyncClient, access_token: str
) -> None:
    # The 43rd character of a 32-byte signature carries 4 bits; its 2 unused bits set
    # spell the same bytes, which lenient base64 decoders accept.
    header, payload, signature = access_token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(signature[-1]) | 1]
    assert base64.urlsafe_b64decode(f"{signature[:-1]}{sibling}=") == base64.urlsafe_b64decode(
        f"{signature}="
    )
    _assert_rejected(await _me(client, f"{header}.{payload}.{signature[:-1]}{sibling}"))


@pytest.mark.parametrize(
    "extension",
    [
        {"crit": ["zzz"], "zzz": 1},
        {"crit": ["b64"], "b64": True},
        {"crit": ["exp"]},
        {"crit": []},
        {"crit": "zzz"},
    ],
    ids=["unknown", "b64", "registered-name", "empty", "not-a-list"],
)
async def test_token_with_a_critical_header_extension_is_rejected(
    client: AsyncClient, claims: Claims, extension: Claims
) -> None:
    # RFC 7515 4.1.11: a `crit` the recipient does not understand makes the JWS invalid.
    _assert_rejected(await _me(client, _sign(claims, header=extension)))


# Time.


async def test_expired_token_is_rejected(client: AsyncClient, claims: Claims) -> None:
    now = int(time.time())
    forged = {**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60}
    _assert_rejected(await _me(client, _sign(forged)))


async def test_token_not_yet_valid_is_rejected(client: AsyncClient, claims: Claims) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "nbf": int(time.time()) + 600})))


async def test_token_issued_in_the_future_is_rejected(client: AsyncClient, claims: Claims) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "iat": int(time.time()) + 600})))


@pytest.mark.parametrize(
    ("claim", "value"), [("iat", True), ("iat", False), ("nbf", True), ("nbf", False)]
)
async def test_time_claim_that_is_a_boolean_is_rejected(
    client: AsyncClient, claims: Claims, claim: str, value: bool
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, claim: value})))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
async def test_time_claim_written_as_text_is_rejected(
    client: AsyncClient, claims: Claims, claim: str
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, claim: str(claims[claim])})))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("exp", math.inf), ("iat", math.nan), ("exp", None), ("iat", [1]), ("nbf", {"t": 1})],
)
async def test_time_claim_that_is_not_a_finite_number_is_rejected(
    client: AsyncClient, claims: Claims, claim: str, value: object
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, claim: value})))


async def test_time_claims_with_fractions_are_accepted(client: AsyncClient, claims: Claims) -> None:
    # RFC 7519 NumericDate may be fractional: the number rule above is no stricter than that.
    forged = {**claims, "iat": claims["iat"] - 0.5, "exp": claims["exp"] + 0.5}
    response = await _me(client, _sign(forged))
    assert response.status_code == 200, response.text


# Required claims and their values.


@pytest.mark.parametrize("claim", ["exp", "jti", "sid", "sub", "iat", "type", "iss", "aud"])
async def test_token_missing_a_required_claim_is_rejected(
    client: AsyncClient, claims: Claims, claim: str
) -> None:
    forged = {name: value for name, value in claims.items() if name != claim}
    _assert_rejected(await _me(client, _sign(forged)))


async def test_token_of_another_type_is_rejected(client: AsyncClient, claims: Claims) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "type": "refresh"})))


async def test_token_for_another_audience_is_rejected(client: AsyncClient, claims: Claims) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "aud": "another-api"})))


async def test_token_for_a_list_of_audiences_including_ours_is_rejected(
    client: AsyncClient, claims: Claims
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "aud": [AUDIENCE, "another-api"]})))


async def test_token_from_another_issuer_is_rejected(client: AsyncClient, claims: Claims) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "iss": "someone-else"})))


async def test_validly_signed_token_for_an_unknown_user_is_rejected(
    client: AsyncClient, claims: Claims
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "sub": str(uuid.uuid4())})))


async def test_validly_signed_token_for_an_unknown_session_is_rejected(
    client: AsyncClient, claims: Claims
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "sid": str(uuid.uuid4())})))


@pytest.mark.parametrize("subject", ["admin", "1", "", "' OR 1=1 --"])
async def test_validly_signed_token_whose_subject_is_not_a_uuid_is_rejected(
    client: AsyncClient, claims: Claims, subject: str
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, "sub": subject})))


@pytest.mark.parametrize(("claim", "value"), [("sub", 42), ("sid", ["x"]), ("scope", 1)])
async def test_validly_signed_token_with_a_claim_of_the_wrong_type_is_rejected(
    client: AsyncClient, claims: Claims, claim: str, value: object
) -> None:
    _assert_rejected(await _me(client, _sign({**claims, claim: value})))


# Malformed input.


async def test_request_without_a_token_is_rejected(client: AsyncClient) -> None:
    _assert_rejected(await client.get(ME_URL))


@pytest.mark.parametrize("authorization", ["Bearer ", "Bearer", "Basic dXNlcjpwYXNz"])
async def test_empty_or_non_bearer_authorization_is_rejected(
    client: AsyncClient, authorization: str
) -> None:
    _assert_rejected(await client.get(ME_URL, headers={"Authorization": authorization}))


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "..", "e30.e30.e30", "%00%ff"])
async def test_garbage_token_is_rejected(client: AsyncClient, garbage: str) -> None:
    _assert_rejected(await _me(client, garbage))


async def test_oversized_token_is_rejected_even_with_a_valid_signature(
    client: AsyncClient, claims: Claims
) -> None:
    token = _sign({**claims, "pad": "x" * 10 * 1024})
    assert len(token) > MAX_TOKEN_LENGTH
    _assert_rejected(await _me(client, token))


# TokenCodec itself.


def _codec(key: str = TEST_SECRET_KEY) -> TokenCodec:
    return TokenCodec(secret_key=key, issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize("key", ["", "short", "k" * (MIN_KEY_LENGTH - 1)])
def test_codec_refuses_a_key_shorter_than_32_characters(key: str) -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        _codec(key)


def test_codec_accepts_a_key_of_exactly_32_characters() -> None:
    _codec("k" * MIN_KEY_LENGTH)


def test_codec_round_trips_the_claims_it_issues() -> None:
    codec = _codec()
    subject, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    scopes = frozenset({"users:read", "users:write"})
    token, issued = codec.issue_access_token(
        subject=subject, session_id=session_id, scopes=scopes, lifetime_seconds=900
    )
    decoded = codec.decode_access_token(token)
    assert decoded == issued
    assert decoded == AccessClaims(
        subject=subject,
        token_id=issued.token_id,
        session_id=session_id,
        scopes=scopes,
        expires_at=issued.expires_at,
    )
    assert abs(decoded.expires_at - (int(time.time()) + 900)) <= 2
    header_segment, payload_segment, _ = token.split(".")
    header, payload = _decoded(header_segment), _decoded(payload_segment)
    assert payload["type"] == "access"
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert header["alg"] == "HS256"


def test_codec_issues_a_fresh_token_id_each_time() -> None:
    codec = _codec()
    ids = {
        codec.issue_access_token(
            subject="s", session_id="x", scopes=frozenset(), lifetime_seconds=60
        )[1].token_id
        for _ in range(5)
    }
    assert len(ids) == 5


def test_codec_refuses_a_token_issued_by_a_codec_with_another_key() -> None:
    token, _ = _codec("another-" + "k" * 56).issue_access_token(
        subject="s", session_id="x", scopes=frozenset(), lifetime_seconds=60
    )
    with pytest.raises(InvalidTokenError):
        _codec().decode_access_token(token)
