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

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, SessionTransaction

from ..db import Base
from .owned import TenantOwned
from .scoping import current_organization

SETTING = "app.organization_id"
# A policy expression as PostgreSQL prints it back (pg_policies, blanks removed): the
# organization column compared with the setting, nothing else. Casts and the alias are
# optional, as versions print them differently; anything added (`OR true`) fails.
_ISOLATING = re.compile(
    r"\(organization_id=\(SELECT\(?NULLIF\(current_setting\('app\.organization_id'"
    r"(::text)?,true\),''(::text)?\)\)?::uuid(AS\"?nullif\"?)?\)\)"
)


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
        policies = (
            await connection.execute(
                text(
                    "SELECT tablename, policyname, permissive, qual, with_check FROM pg_policies "
                    "WHERE schemaname = 'public' AND tablename = ANY(:names)"
                ),
                {"names": tenant_tables()},
            )
        ).all()
    problems = _problems(role, {row.relname: row for row in tables})
    problems += _policy_problems(policies)
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


def _policy_problems(policies: Sequence[Any]) -> list[str]:
    """Each tenant table needs a policy on the organization, and no permissive policy
    (they add up with OR) may admit anything more."""
    problems = []
    for name in tenant_tables():
        permissive = [
            row for row in policies if row.tablename == name and row.permissive == "PERMISSIVE"
        ]
        if not permissive:
            problems.append(f"table {name!r} has no organization policy")
        for row in permissive:
            expressions = (row.qual, row.with_check)
            if not all(_isolates(expression) for expression in expressions):
                problems.append(
                    f"policy {row.policyname!r} on {name!r} admits more than its organization"
                )
    return problems


def _isolates(expression: str | None) -> bool:
    return expression is not None and _ISOLATING.fullmatch("".join(expression.split())) is not None
