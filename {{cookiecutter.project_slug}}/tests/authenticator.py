"""A software passkey authenticator: what a browser and a platform authenticator hand a
page, built here so the server's checks run on real signatures.

The key is an ES256 (P-256) pair from `cryptography`; the structures are WebAuthn's own:
authenticator data (RP ID hash, flags, signature counter, attested credential data), an
attestation object of format "none", and an assertion signed over the authenticator data
and the hash of the client data. The results are what `credential.toJSON()` gives.
"""

import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, encode_cbor

FRONTEND_ORIGIN = "http://localhost:3000"
USER_PRESENT = 0x01
USER_VERIFIED = 0x04
ATTESTED_CREDENTIAL = 0x40
# COSE: key type EC2, algorithm ES256, curve P-256.
_COSE_EC2, _COSE_ES256, _COSE_P256 = 2, -7, 1


class SoftwareAuthenticator:
    """One discoverable credential, made by `create` and used by `get`."""

    def __init__(self, *, counts_signatures: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.user_handle: bytes | None = None
        # Authenticators that keep no counter (most synced passkeys) always say 0.
        self.sign_count = 0
        self.counts_signatures = counts_signatures

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str = FRONTEND_ORIGIN,
        rp_id: str | None = None,
        user_verified: bool = True,
        attestation: tuple[str, dict[str, Any]] = ("none", {}),
        public_key: dict[int, Any] | None = None,
    ) -> dict[str, Any]:
        """`credential.toJSON()` of a new credential for creation options `options`; a
        crafted `attestation` (format, statement) or COSE `public_key` replaces its own."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        flags = USER_PRESENT | ATTESTED_CREDENTIAL | (USER_VERIFIED if user_verified else 0)
        attested = (
            bytes(16)  # AAGUID: none, as with "none" attestation
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + (self._cose_public_key() if public_key is None else encode_cbor(public_key))
        )
        auth_data = self._auth_data(rp_id or options["rp"]["id"], flags) + attested
        fmt, statement = attestation
        attestation_object = encode_cbor({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        return self._credential(
            client_data,
            attestationObject=bytes_to_base64url(attestation_object),
            transports=["internal", "hybrid"],
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str = FRONTEND_ORIGIN,
        rp_id: str | None = None,
        cross_origin: bool = False,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """`credential.toJSON()` of an assertion for request options `options`."""
        if self.counts_signatures:
            self.sign_count += 1
        client_data = _client_data("webauthn.get", options["challenge"], origin, cross_origin)
        flags = USER_PRESENT | (USER_VERIFIED if user_verified else 0)
        auth_data = self._auth_data(rp_id or options["rpId"], flags)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        assert self.user_handle is not None, "create() a credential first"
        return self._credential(
            client_data,
            authenticatorData=bytes_to_base64url(auth_data),
            signature=bytes_to_base64url(signature),
            userHandle=bytes_to_base64url(self.user_handle),
        )

    def _credential(self, client_data: bytes, **response: Any) -> dict[str, Any]:
        """The JSON of this credential, its `response` holding the client data and `response`."""
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": bytes_to_base64url(client_data), **response},
        }

    def _auth_data(self, rp_id: str, flags: int) -> bytes:
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + self.sign_count.to_bytes(4, "big")
        )

    def _cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor(
            {
                1: _COSE_EC2,
                3: _COSE_ES256,
                -1: _COSE_P256,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


def _client_data(ceremony: str, challenge: str, origin: str, cross_origin: bool = False) -> bytes:
    return json.dumps(
        {"type": ceremony, "challenge": challenge, "origin": origin, "crossOrigin": cross_origin},
        separators=(",", ":"),
    ).encode()
