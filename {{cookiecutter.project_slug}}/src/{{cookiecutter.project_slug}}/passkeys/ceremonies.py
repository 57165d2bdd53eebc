"""The two WebAuthn ceremonies, through py_webauthn (`webauthn`): the options a browser
gets, and the checks of what it sends back. Nothing here parses CBOR or COSE or checks
a signature by hand; it decides what to ask for and which failures the caller hears of.

Options are WebAuthn Level 3 JSON (`options_to_json_dict`): a page passes them to
`PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`, and
sends back `credential.toJSON()`, which the `parse_*_credential_json` helpers read.
"""

import binascii
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    ClientDataType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from ..config import Settings
from ..security.identity import UserSnapshot

# How long a challenge is good for; the browser is told the same as its timeout.
CHALLENGE_LIFETIME = timedelta(minutes=5)
_TIMEOUT_MS = int(CHALLENGE_LIFETIME.total_seconds() * 1000)
# The longest credential id WebAuthn Level 3 allows.
MAX_CREDENTIAL_ID_BYTES = 1023
CREDENTIAL_ID_TOO_LONG = f"Passkey credential id longer than {MAX_CREDENTIAL_ID_BYTES} bytes"


class CeremonyError(Exception):
    """A credential was refused; `str()` says why, in words fit for the caller."""


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """This site as passkeys know it: the RP ID they are bound to, the origins that may
    use them (config.py checked that each is on the RP ID), a name to show."""

    id: str
    name: str
    origins: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> "RelyingParty":
        return cls(settings.webauthn_rp_id, settings.PROJECT_NAME, tuple(settings.webauthn_origins))


def registration_options(
    party: RelyingParty, user: UserSnapshot, existing: list[tuple[bytes, list[str]]]
) -> tuple[dict[str, Any], str]:
    """Options for a new discoverable passkey of `user`, with user verification, none of
    `existing` (credential ids and transports) again; and their challenge, base64url."""
    options = generate_registration_options(
        rp_id=party.id,
        rp_name=party.name,
        # The user handle: the account's id, which holds nothing personal.
        user_id=user.id.bytes,
        user_name=user.username,
        timeout=_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=credential_id, transports=_known(transports))
            for credential_id, transports in existing
        ],
    )
    return options_to_json_dict(options), bytes_to_base64url(options.challenge)


def authentication_options(party: RelyingParty) -> tuple[dict[str, Any], str]:
    """Options for a login naming no user and no credential, with user verification (a
    passkey login is both factors); and their challenge, base64url."""
    options = generate_authentication_options(
        rp_id=party.id,
        timeout=_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options), bytes_to_base64url(options.challenge)


def parse_registration(credential: dict[str, Any]) -> tuple[RegistrationCredential, str]:
    """The browser's `toJSON()` of a new credential, and the challenge it answers."""
    try:
        parsed = parse_registration_credential_json(credential)
    except (WebAuthnException, binascii.Error, ValueError) as exc:
        raise CeremonyError("Malformed passkey credential") from exc
    return parsed, _challenge(parsed.response.client_data_json, ClientDataType.WEBAUTHN_CREATE)


def parse_assertion(credential: dict[str, Any]) -> tuple[AuthenticationCredential, str]:
    """The browser's `toJSON()` of a login assertion, and the challenge it answers."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, binascii.Error, ValueError) as exc:
        raise CeremonyError("Malformed passkey assertion") from exc
    if len(parsed.raw_id) > MAX_CREDENTIAL_ID_BYTES:
        # No passkey has one: not worth a lookup.
        raise CeremonyError(CREDENTIAL_ID_TOO_LONG)
    return parsed, _challenge(parsed.response.client_data_json, ClientDataType.WEBAUTHN_GET)


def verify_registration(
    party: RelyingParty, credential: RegistrationCredential, challenge: str
) -> VerifiedRegistration:
    """Check the new credential's origin, RP ID, user verification and attestation, and
    that its id fits and its public key is one a login can check signatures with."""
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=party.id,
            expected_origin=list(party.origins),
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise CeremonyError(f"Passkey not accepted: {exc}") from exc
    except Exception as exc:
        # py_webauthn's attestation parsers let their parsers' errors (ASN.1, base64,
        # CBOR...) through: a crafted statement is a bad credential, not a crash.
        raise CeremonyError("Malformed passkey credential") from exc
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise CeremonyError(CREDENTIAL_ID_TOO_LONG)
    try:
        # py_webauthn builds the key only at login: an unusable one is refused now.
        decoded_public_key_to_cryptography(
            decode_credential_public_key(verified.credential_public_key)
        )
    except Exception as exc:
        raise CeremonyError("Passkey not accepted: its public key is not a valid key") from exc
    return verified


def verify_assertion(
    party: RelyingParty, credential: AuthenticationCredential, challenge: str, public_key: bytes
) -> VerifiedAuthentication:
    """Check the assertion's signature, origin, RP ID and user verification.

    The counter is the caller's to compare (passkeys/login.py): it does so in the one
    UPDATE that stores the new value, so two logins at once cannot both pass it.
    """
    try:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=party.id,
            expected_origin=list(party.origins),
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise CeremonyError(f"Passkey not accepted: {exc}") from exc
    except Exception as exc:
        # A parser's error py_webauthn let through, or a stored key that does not build
        # (registration refuses those): a refusal, never a crash.
        raise CeremonyError("Passkey not accepted: the assertion could not be checked") from exc


def user_handle_matches(credential: AuthenticationCredential, user_id_bytes: bytes) -> bool:
    """A discoverable credential names its user; it must be the passkey's owner."""
    handle = credential.response.user_handle
    return handle is None or handle == user_id_bytes


def _challenge(client_data_json: bytes, expected: ClientDataType) -> str:
    """The challenge `client_data_json` answers, base64url; a ceremony of another kind,
    or one run in a frame of another origin, is refused here."""
    try:
        client_data = parse_client_data_json(client_data_json)
    except (WebAuthnException, binascii.Error, ValueError) as exc:
        raise CeremonyError("Malformed clientDataJSON") from exc
    if client_data.type != expected:
        raise CeremonyError(f"clientDataJSON is not of a {expected.value} ceremony")
    if client_data.cross_origin:
        # A page of this site framed by another one: the framing page chose the moment.
        raise CeremonyError("Passkeys are not accepted from a cross-origin frame")
    return bytes_to_base64url(client_data.challenge)


def _known(transports: list[str]) -> list[AuthenticatorTransport]:
    values = {transport.value for transport in AuthenticatorTransport}
    return [AuthenticatorTransport(name) for name in transports if name in values]
