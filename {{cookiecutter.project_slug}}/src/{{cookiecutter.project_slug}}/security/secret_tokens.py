"""Random bearer secrets (refresh tokens, mailed links, API keys) and how they are stored."""

import hashlib
import secrets

# 256 random bits: nobody guesses one, so a fast hash is enough to store it.
SECRET_TOKEN_BYTES = 32


def new_secret_token() -> str:
    return secrets.token_urlsafe(SECRET_TOKEN_BYTES)


def hash_secret_token(token: str) -> str:
    """What the database keeps instead of the token: a stolen row cannot be replayed."""
    return hashlib.sha256(token.encode()).hexdigest()
