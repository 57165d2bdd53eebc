"""Encryption of secrets the app must read back (TOTP secrets), with keys that rotate.

A database dump alone must not give such a secret away, so it is stored encrypted
(Fernet: AES-128-CBC with an HMAC-SHA256) under a key that lives in the settings, not in
the database. Each configured key is stretched into a Fernet key with HKDF, bound to this
one use. The first key encrypts; every key decrypts, so a new key can be put first while
the secrets made under the old ones still open.
"""

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# HKDF's `info`: the same key material also signs tokens, and this key must be another.
PURPOSE = b"totp-secret-encryption"


class UndecryptableSecretError(Exception):
    """No configured key opens the ciphertext: its key was dropped from the settings."""


def derive_fernet_key(material: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE)
    return base64.urlsafe_b64encode(hkdf.derive(material.encode()))


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(derive_fernet_key(key)) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecretError from exc

    def reencrypt(self, ciphertext: str) -> str:
        """`ciphertext` encrypted under the first key, whichever key it was made under."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecretError from exc
