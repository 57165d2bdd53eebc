"""session details: last use, address and user agent of each login session

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, nullable: on SQLite anything else rebuilds the table, and
    # dropping the old user_sessions would cascade into refresh_tokens.
    op.add_column(
        "user_sessions", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("user_sessions", sa.Column("ip_address", sa.String(length=45), nullable=True))
    op.add_column("user_sessions", sa.Column("user_agent", sa.String(length=256), nullable=True))
    # A session opened before this revision was last used at its login, as far as we know.
    op.execute("UPDATE user_sessions SET last_used_at = created_at")


def downgrade() -> None:
    # SQLite (3.35 and later) drops a column in place when nothing refers to it.
    op.drop_column("user_sessions", "user_agent")
    op.drop_column("user_sessions", "ip_address")
    op.drop_column("user_sessions", "last_used_at")
