"""TOTP codes (RFC 6238: SHA-1, 6 digits, 30-second steps), made and checked by pyotp."""

import hmac
import time

import pyotp

# 32 base32 characters: 160 random bits, the key length RFC 4226 recommends.
SECRET_LENGTH = 32
DIGITS = 6
STEP_SECONDS = 30
# Steps either side of now whose codes still count: a phone's clock may be that far off.
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32(SECRET_LENGTH)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://` URI an authenticator app reads (usually from a QR code)."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def looks_like_code(value: str) -> bool:
    return len(value) == DIGITS and value.isascii() and value.isdigit()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step `code` belongs to, within DRIFT_STEPS of now; None if it is none's.

    The step, not a yes or no: the caller records it, so that each step's code works once.
    """
    if not looks_like_code(code):
        return None
    totp = _totp(secret)
    step = int((time.time() if now is None else now) // STEP_SECONDS)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None
