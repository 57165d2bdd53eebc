"""organizations: tenants, their members and invitations; sessions, API keys and audit
events name the organization they belong to

Revision ID: 0005a
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
{%- if cookiecutter.database == "postgresql" %}

from {{ cookiecutter.project_slug }}.tenancy.row_security import SHARED, enforce
{%- endif %}

revision: str = "0005a"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "user_id"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("inviter_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["inviter_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        "ix_invitations_organization_id_created_at",
        "invitations",
        ["organization_id", "created_at"],
    )
    for table in ("user_sessions", "api_keys"):
        _add_organization_reference(table)
        op.create_index(f"ix_{table}_organization_id", table, ["organization_id"])
    op.add_column("audit_events", sa.Column("organization_id", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_audit_events_organization_id_created_at",
        "audit_events",
        ["organization_id", "created_at"],
    )
{%- if cookiecutter.database == "postgresql" %}
    # Row-level security on what says who may enter an organization, and on its trail
    # (tenancy/row_security.py states the policies, which the start-up check compares).
    for table, policies in SHARED.items():
        for statement in enforce(table, policies):
            op.execute(statement)
{%- endif %}


def _add_organization_reference(table: str) -> None:
    """A nullable `organization_id` referring to organizations, on an existing table."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a foreign key only inline; Alembic would rebuild the table, and
        # dropping the old user_sessions would cascade into refresh_tokens.
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN organization_id CHAR(32) REFERENCES organizations (id)"
        )
        return
    op.add_column(table, sa.Column("organization_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        f"{table}_organization_id_fkey",
        table,
        "organizations",
        ["organization_id"],
        ["id"],
    )


def downgrade() -> None:
{%- if cookiecutter.database == "postgresql" %}
    for table, policies in SHARED.items():
        for policy in policies:
            op.execute(f"DROP POLICY {table}_{policy.name} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
{%- endif %}
    op.drop_index("ix_audit_events_organization_id_created_at", table_name="audit_events")
    op.drop_column("audit_events", "organization_id")
    for table in ("api_keys", "user_sessions"):
        op.drop_index(f"ix_{table}_organization_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("organization_id")
    op.drop_index("ix_invitations_organization_id_created_at", table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("organizations")
