"""Recovery codes: single-use stand-ins for a TOTP code, for a user whose device is lost."""

import base64
import secrets
import uuid

from .secret_tokens import hash_secret_token

RECOVERY_CODE_COUNT = 10
# 80 random bits each, and each hash salted with its user's id: a stolen table of hashes
# cannot be searched for the codes, not even for all users' codes at once.
RECOVERY_CODE_BYTES = 10
# Shown as 4 groups of 4 base32 characters: xxxx-xxxx-xxxx-xxxx.
GROUP_LENGTH = 4
_CODE_LENGTH = RECOVERY_CODE_BYTES * 8 // 5
_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def new_recovery_code() -> str:
    text = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(text[i : i + GROUP_LENGTH] for i in range(0, len(text), GROUP_LENGTH))


def normalize(code: str) -> str:
    """A code as typed (any case, with or without its dashes or spaces), as issued."""
    return code.replace("-", "").replace(" ", "").lower()


def looks_like_recovery_code(code: str) -> bool:
    plain = normalize(code)
    return len(plain) == _CODE_LENGTH and set(plain) <= _ALPHABET


def hash_recovery_code(user_id: uuid.UUID, code: str) -> str:
    """What the database keeps instead of the code."""
    return hash_secret_token(f"{user_id}:{normalize(code)}")
