{% set items_parent = "0005b" if cookiecutter.passkeys == "yes" else "0005a" if cookiecutter.multi_tenancy == "yes" else "0005" -%}
"""items, the example resource

Revision ID: 0006
Revises: {{ items_parent }}
Create Date: 2026-12-07

The example's table has a migration of its own, so that removing the example removes
this file. Releases before 0.4.0 created the table in 0001: a database they migrated
already has it, with its rows, and is left as it is.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
{%- if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}

from {{ cookiecutter.project_slug }}.tenancy.row_security import enforce
{%- endif %}

revision: str = "0006"
down_revision: str | None = "{{ items_parent }}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("items"):
        return
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
{%- if cookiecutter.multi_tenancy == "yes" %}
        sa.Column("organization_id", sa.Uuid(), nullable=False),
{%- endif %}
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
{%- if cookiecutter.multi_tenancy == "yes" %}
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("organization_id", "id"),
{%- endif %}
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_items_owner_id", "items", ["owner_id"])
{%- if cookiecutter.multi_tenancy == "yes" %}
    op.create_index("ix_items_organization_id", "items", ["organization_id"])
{%- if cookiecutter.database == "postgresql" %}
    # Row-level security (tenancy/row_security.py states the policy).
    for statement in enforce("items"):
        op.execute(statement)
{%- endif %}
{%- endif %}


def downgrade() -> None:
{%- if cookiecutter.multi_tenancy == "yes" %}
    op.drop_index("ix_items_organization_id", table_name="items")
{%- endif %}
    op.drop_index("ix_items_owner_id", table_name="items")
    op.drop_table("items")
