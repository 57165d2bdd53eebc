import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class Passkey(Base):
    """A WebAuthn credential a user registered: its public key, never a secret."""

    __tablename__ = "passkeys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The authenticator's id for it (at most 1023 bytes, WebAuthn Level 3).
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    # COSE_Key bytes, as the registration's attested credential data held them.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The authenticator's signature counter: a login must show a higher one (0 if it keeps none).
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # How the browser may reach the authenticator ("internal", "hybrid", "usb"...).
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasskeyChallenge(Base):
    """A challenge this server issued, waiting for the one ceremony it is good for.

    A registration challenge names its user; a login challenge names nobody (a
    discoverable credential tells who logs in). Each is deleted by the request that uses
    it, or by the purge once expired.
    """

    __tablename__ = "passkey_challenges"

    # base64url, as the browser's clientDataJSON returns it.
    challenge: Mapped[str] = mapped_column(String(128), primary_key=True)
    ceremony: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
