"""PostgreSQL's row-level security, the backstop the query layer cannot forget.

Every table holding an organization's rows has row-level security enabled and forced
(migrations), with the policies `PROTECTED` names for it. Each admits rows on one setting
that the transaction needing them sets with `set_config(..., true)`: local to the
transaction, so a pooled connection (PgBouncer in transaction mode included) carries
nothing into the next one, and a transaction that set nothing sees no organization's rows.

- `app.organization_id`: the organization the request is bound to, set as each of its
  transactions begins; every protected table is readable and writable there.
- `app.user_id`: a user whose own memberships a login, a credential check or
  `GET /organizations` reads before any organization is bound; read only.
- `app.invitation_token_hash`: the one invitation an acceptance reads by its token's hash,
  before it binds the transaction to the invitation's organization; read only.
- Platform audit events (no organization) stay readable and writable without a setting.

The values always come from the server (a verified credential, a token's hash, a row just
read), never from the request as sent. Superusers and roles with BYPASSRLS skip every
policy: in production the app refuses to start under such a role, or when a protected
table lacks forced row-level security or its policies differ from `PROTECTED`.
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ..db import Base
from .owned import TenantOwned
from .scoping import current_organization

SETTING = "app.organization_id"
USER_SETTING = "app.user_id"
INVITATION_SETTING = "app.invitation_token_hash"
_SET = text("SELECT set_config(:setting, :value, true)")


# What a policy's command lets through: USING filters the rows a command finds, WITH
# CHECK the rows it writes.
_USING = ("ALL", "SELECT", "DELETE")
_CHECKED = ("ALL", "INSERT")


@dataclass(frozen=True)
class RowPolicy:
    """A permissive policy for `command` admitting the rows whose `column` equals
    `setting` (compared as `cast`), or, with no setting, the rows whose `column` is NULL."""

    name: str
    command: Literal["ALL", "SELECT", "INSERT", "DELETE"]
    column: str
    setting: str | None
    cast: Literal["uuid", "text"] = "uuid"

    def condition(self) -> str:
        if self.setting is None:
            return f"{self.column} IS NULL"
        value = f"NULLIF(current_setting('{self.setting}', true), '')"
        return f"{self.column} = (SELECT {value}{'::uuid' if self.cast == 'uuid' else ''})"

    def create(self, table: str) -> str:
        using = f" USING ({self.condition()})" if self.command in _USING else ""
        check = f" WITH CHECK ({self.condition()})" if self.command in _CHECKED else ""
        return f"CREATE POLICY {table}_{self.name} ON {table} FOR {self.command}{using}{check}"

    def printed(self) -> re.Pattern[str]:
        """The condition as PostgreSQL prints it back (pg_policies, blanks removed):
        casts, brackets and the alias are optional, as versions print them differently;
        anything added (`OR true`) fails."""
        column = rf"\(?{self.column}\)?(::text)?"
        if self.setting is None:
            return re.compile(rf"\({column}ISNULL\)")
        setting = re.escape(self.setting)
        value = rf"\(?NULLIF\(current_setting\('{setting}'(::text)?,true\),''(::text)?\)\)?"
        if self.cast == "uuid":
            value += "::uuid"
        return re.compile(rf"\({column}=\(SELECT{value}(AS\"?nullif\"?)?\)\)")

    def matches(self, command: str, qual: str | None, with_check: str | None) -> bool:
        """Whether a policy printed back is this one: the same command, and each of its
        expressions this condition where the command has one, absent where not."""
        return (
            command == self.command
            and _expected(self, qual, self.command in _USING)
            and _expected(self, with_check, self.command in _CHECKED)
        )


def _expected(policy: RowPolicy, expression: str | None, present: bool) -> bool:
    return _printed_as(policy, expression) if present else expression is None


def _printed_as(policy: RowPolicy, expression: str | None) -> bool:
    return (
        expression is not None
        and policy.printed().fullmatch("".join(expression.split())) is not None
    )


ISOLATION = RowPolicy("organization_isolation", "ALL", "organization_id", SETTING)
# The tables that say who may enter an organization, and its audit trail: read before an
# organization is bound, each through one narrow, read-only door of its own.
SHARED: dict[str, tuple[RowPolicy, ...]] = {
    "memberships": (ISOLATION, RowPolicy("own_rows", "SELECT", "user_id", USER_SETTING)),
    "invitations": (
        ISOLATION,
        RowPolicy("by_token", "SELECT", "token_hash", INVITATION_SETTING, "text"),
    ),
    # Platform events (no organization): read, written and purged without a setting, but
    # never updated, so no transaction can move them into an organization's trail.
    "audit_events": (
        ISOLATION,
        RowPolicy("platform_read", "SELECT", "organization_id", None),
        RowPolicy("platform_insert", "INSERT", "organization_id", None),
        RowPolicy("platform_purge", "DELETE", "organization_id", None),
    ),
}


def tenant_tables() -> list[str]:
    """The tables of every `TenantOwned` model."""
    return sorted(
        mapper.persist_selectable.description
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned) and mapper.persist_selectable.description
    )


def protected() -> dict[str, tuple[RowPolicy, ...]]:
    """Every table under row-level security, with its policies: the one statement of
    them that the migrations create and the start-up check compares with."""
    return {name: (ISOLATION,) for name in tenant_tables()} | SHARED


def enforce(table: str, policies: Sequence[RowPolicy] = (ISOLATION,)) -> list[str]:
    """The statements a migration runs to put `table` under its policies: forced, so the
    table's owner is held to them too; each setting is read once per statement."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        *(policy.create(table) for policy in policies),
    ]


@event.listens_for(Session, "after_begin")
def _set_organization(
    _session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    organization_id = current_organization.get()
    if organization_id is not None:
        connection.execute(_SET, {"setting": SETTING, "value": str(organization_id)})


async def bind_organization(db: AsyncSession, organization_id: uuid.UUID | None) -> None:
    """Bind the rest of this transaction to `organization_id` (None: to none), for a
    write the request's own binding does not cover: the first membership of a new
    organization, an accepted invitation, a purge of one organization's old rows."""
    value = "" if organization_id is None else str(organization_id)
    await db.execute(_SET, {"setting": SETTING, "value": value})


async def read_memberships_of(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Let the rest of this transaction read the memberships of `user_id`."""
    await db.execute(_SET, {"setting": USER_SETTING, "value": str(user_id)})


async def read_invitation(db: AsyncSession, token_hash: str) -> None:
    """Let the rest of this transaction read the invitation whose token hashes to this."""
    await db.execute(_SET, {"setting": INVITATION_SETTING, "value": token_hash})


class RowSecurityError(RuntimeError):
    """The database would not enforce row-level security for this app."""


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
                {"names": list(protected())},
            )
        ).all()
        policies = (
            await connection.execute(
                text(
                    "SELECT tablename, policyname, permissive, cmd, qual, with_check "
                    "FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY(:names)"
                ),
                {"names": list(protected())},
            )
        ).all()
        ways_around = await _ways_around(connection)
    problems = _problems(role, {row.relname: row for row in tables})
    problems += _policy_problems(policies)
    problems += ways_around
    if problems:
        raise RowSecurityError(
            "PostgreSQL would not keep organizations apart: "
            + "; ".join(problems)
            + " (docs/organizations.md, 'Database roles')"
        )


async def _ways_around(connection: AsyncConnection) -> list[str]:
    """What would let the app's role past the policies without breaking them: a default
    value for a setting (a connection that sets nothing would see rows), owning a table
    (an owner may drop its policies), a role it may become that skips them, and a table
    of the same name earlier on its search_path."""
    names = list(protected())
    settings = (SETTING, USER_SETTING, INVITATION_SETTING)
    defaults = await connection.scalars(
        text(
            "SELECT name FROM unnest(CAST(:names AS text[])) AS name "
            "WHERE coalesce(current_setting(name, true), '') <> ''"
        ),
        {"names": list(settings)},
    )
    owned = await connection.scalars(
        text(
            "SELECT relname FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace AND relname = ANY(:names) "
            "AND relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
            "ORDER BY relname"
        ),
        {"names": names},
    )
    becomes = await connection.scalars(
        text(
            "SELECT rolname FROM pg_roles WHERE (rolsuper OR rolbypassrls) "
            "AND rolname <> current_user AND pg_has_role(current_user, oid, 'MEMBER') "
            "ORDER BY rolname"
        )
    )
    shadowed = await connection.scalars(
        text(
            "SELECT name FROM unnest(CAST(:names AS text[])) AS name "
            "WHERE to_regclass(quote_ident(name)) IS DISTINCT FROM "
            "to_regclass('public.' || quote_ident(name)) ORDER BY name"
        ),
        {"names": names},
    )
    return [
        *(
            f"the setting {name!r} has a default (ALTER ROLE or DATABASE ... SET)"
            for name in defaults
        ),
        *(f"the database role owns table {name!r} and may drop its policies" for name in owned),
        *(
            f"the database role may become {name!r}, which skips row-level security"
            for name in becomes
        ),
        *(
            f"table {name!r} is found outside schema 'public' first (search_path)"
            for name in shadowed
        ),
    ]


def _problems(role: Any, tables: dict[str, Any]) -> list[str]:
    problems = []
    if role.rolsuper:
        problems.append(f"the database role {role.rolname!r} is a superuser")
    if role.rolbypassrls:
        problems.append(f"the database role {role.rolname!r} has BYPASSRLS")
    for name in protected():
        table = tables.get(name)
        if table is None or not (table.relrowsecurity and table.relforcerowsecurity):
            problems.append(f"table {name!r} lacks forced row-level security")
    return problems


def _policy_problems(policies: Sequence[Any]) -> list[str]:
    """Each protected table needs each of its policies, and no other permissive policy
    (they add up with OR) may admit anything more."""
    problems = []
    for name, expected in protected().items():
        permissive = [
            row for row in policies if row.tablename == name and row.permissive == "PERMISSIVE"
        ]
        for policy in expected:
            if f"{name}_{policy.name}" not in {row.policyname for row in permissive}:
                problems.append(f"table {name!r} lacks its policy '{name}_{policy.name}'")
        for row in permissive:
            declared = [p for p in expected if f"{name}_{p.name}" == row.policyname]
            if not any(p.matches(row.cmd, row.qual, row.with_check) for p in declared):
                problems.append(
                    f"policy {row.policyname!r} on {name!r} admits more than {_admits(declared)}"
                )
    return problems


def _admits(declared: list[RowPolicy]) -> str:
    return "its organization" if not declared or declared[0] is ISOLATION else "its setting"
