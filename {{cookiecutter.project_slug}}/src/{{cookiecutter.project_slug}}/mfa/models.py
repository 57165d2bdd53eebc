import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class TotpSecret(Base):
    """A user's TOTP secret: waiting for its first code while `User.mfa_enabled` is off,
    then the one every login of theirs needs a code of."""

    __tablename__ = "totp_secrets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Encrypted (security/encryption.py): a database dump alone does not give it away.
    encrypted_secret: Mapped[str] = mapped_column(String(255))
    # The last time step a code was accepted for: no code of it, or of an earlier one,
    # works again.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    # Wrong codes since the last accepted one (mfa/service.py, MAX_WRONG_CODES).
    wrong_codes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Base):
    """One of the single-use codes a user got when two-factor authentication went on."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the user's id and the code (security/recovery_codes.py).
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
