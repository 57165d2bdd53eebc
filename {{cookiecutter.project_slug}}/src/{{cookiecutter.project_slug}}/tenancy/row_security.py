"""PostgreSQL's row-level security, the backstop the query layer cannot forget.

Every tenant-owned table has row-level security enabled and forced (migrations), with a
policy admitting only rows whose `organization_id` equals the setting
`app.organization_id`. Each transaction of a bound request sets it with
`set_config(..., true)`: local to the transaction, so a pooled connection (PgBouncer in
transaction mode included) carries nothing into the next one, and a transaction that
set nothing sees no tenant rows at all.

Superusers and roles with BYPASSRLS skip every policy: in production the app refuses to
start under such a role, or when a tenant-owned table lacks forced row-level security.
"""

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, SessionTransaction

from ..db import Base
from .owned import TenantOwned
from .scoping import current_organization

SETTING = "app.organization_id"


class RowSecurityError(RuntimeError):
    """The database would not enforce row-level security for this app."""


def tenant_tables() -> list[str]:
    """The tables of every `TenantOwned` model."""
    return sorted(
        mapper.persist_selectable.description
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned) and mapper.persist_selectable.description
    )


@event.listens_for(Session, "after_begin")
def _set_organization(
    _session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    organization_id = current_organization.get()
    if organization_id is not None:
        connection.execute(
            text("SELECT set_config(:setting, :value, true)"),
            {"setting": SETTING, "value": str(organization_id)},
        )


async def check_row_security(engine: AsyncEngine) -> None:
    """RowSecurityError naming what is wrong, unless PostgreSQL enforces the policies."""
    async with engine.connect() as connection:
        role = (
            await connection.execute(
                text(
                    "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            )
        ).one()
        tables = (
            await connection.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                    "AND relname = ANY(:names)"
                ),
                {"names": tenant_tables()},
            )
        ).all()
    problems = _problems(role, {row.relname: row for row in tables})
    if problems:
        raise RowSecurityError(
            "PostgreSQL would not keep organizations apart: "
            + "; ".join(problems)
            + " (docs/organizations.md, 'Database roles')"
        )


def _problems(role: Any, tables: dict[str, Any]) -> list[str]:
    problems = []
    if role.rolsuper:
        problems.append(f"the database role {role.rolname!r} is a superuser")
    if role.rolbypassrls:
        problems.append(f"the database role {role.rolname!r} has BYPASSRLS")
    for name in tenant_tables():
        table = tables.get(name)
        if table is None or not (table.relrowsecurity and table.relforcerowsecurity):
            problems.append(f"table {name!r} lacks forced row-level security")
    return problems
