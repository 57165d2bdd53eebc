"""Organizations: creating them, binding tokens to one, switching, members and roles."""

import uuid
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from httpx import AsyncClient
from sqlalchemy import func, select

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.organizations.service import MAX_ORGANIZATIONS_PER_USER
from {{ cookiecutter.project_slug }}.security.scopes import OrganizationRole, Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.tenancy.models import Invitation, Membership, Organization

from .audit_rows import AUDIT_URL, audit_rows, listed_events
from .conftest import PASSWORD, AuthHeaders, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback
from .organizations import (
    ITEMS_URL,
    ORGANIZATIONS_URL,
    add_member,
    bound_headers,
    bound_login,
    create_organization,
)

REFRESH_URL = "/api/v1/auth/refresh"
COOKIE_LOGIN_URL = "/api/v1/auth/cookie/login"
COOKIE_REFRESH_URL = "/api/v1/auth/cookie/refresh"
NOT_A_MEMBER = {"detail": "Not a member of this organization"}
LAST_OWNER = {"detail": "An organization keeps at least one owner"}
OWNER_RACE_ROUNDS = 5
CLOSING_RACE_ROUNDS = 4
CLOSING_RACE_INVITATIONS = 3
PROMOTION_RACE_ROUNDS = 20
ROLE_CHANGED = {"detail": "The member's role changed meanwhile: reload the members and try again"}


def _members_url(organization: dict[str, Any], user_id: object = None) -> str:
    url = f"{ORGANIZATIONS_URL}/{organization['id']}/members"
    return url if user_id is None else f"{url}/{user_id}"


async def test_the_creator_owns_a_new_organization(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    created = await client.post(
        ORGANIZATIONS_URL, headers=headers, json={"name": " Acme ", "slug": "Acme-Corp"}
    )

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "slug", "created_at"}
    assert (body["name"], body["slug"]) == ("Acme", "acme-corp")
    mine = (await client.get(ORGANIZATIONS_URL, headers=headers)).json()
    assert {"id": body["id"], "name": "Acme", "slug": "acme-corp", "role": "owner"} in mine


async def test_a_taken_slug_is_409_and_a_slug_that_reads_as_an_id_is_422(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    first, second = await auth_headers(), await auth_headers()
    await create_organization(client, first, "taken")

    taken = await client.post(
        ORGANIZATIONS_URL, headers=second, json={"name": "x", "slug": "TAKEN"}
    )
    uuid_like = await client.post(
        ORGANIZATIONS_URL, headers=second, json={"name": "x", "slug": str(uuid.uuid4())}
    )

    assert (taken.status_code, taken.json()) == (409, {"detail": "Slug already taken"})
    assert uuid_like.status_code == 422


async def test_parallel_creations_stop_exactly_at_the_cap(app: Any, make_user: UserFactory) -> None:
    user = await make_user()
    attempts = MAX_ORGANIZATIONS_PER_USER + 5
    async with client_from(app, loopback(0)) as client:
        headers = bearer(await login(client, user.username))
        clients = [client_from(app, loopback(1 + number)) for number in range(attempts)]
        calls = [
            partial(
                crowd_client.post,
                ORGANIZATIONS_URL,
                headers=headers,
                json={"name": "n", "slug": f"capped-{number}-{uuid.uuid4().hex[:6]}"},
            )
            for number, crowd_client in enumerate(clients)
        ]
        answers = await all_at_once(calls)
        for crowd_client in clients:
            await crowd_client.aclose()
        mine = (await client.get(ORGANIZATIONS_URL, headers=headers)).json()

    codes = sorted(answer.status_code for answer in answers)
    # The cap counts organizations owned: the test user's own (tests/conftest.py) is one
    # they are a member of.
    assert codes == [201] * MAX_ORGANIZATIONS_PER_USER + [409] * 5
    assert sum(1 for entry in mine if entry["role"] == "owner") == MAX_ORGANIZATIONS_PER_USER


async def test_a_login_binds_to_the_named_organization(
    client: AsyncClient, services: Services, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    owner = await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))

    by_id = await bound_login(client, owner.username, organization["id"])
    by_slug = await bound_login(client, owner.username, organization["slug"].upper())

    for tokens in (by_id, by_slug):
        claims = services.tokens.decode_access_token(tokens["access_token"])
        assert claims.organization_id == organization["id"]
        assert set(tokens["scope"].split()) >= {"items:write", "members:write"}


async def test_a_non_member_login_is_403_whatever_it_names(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    organization = await create_organization(client, await auth_headers())
    outsider = await make_user()

    for named in (organization["id"], organization["slug"], str(uuid.uuid4()), "no-such-org"):
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": outsider.username, "password": PASSWORD, "organization": named},
        )
        assert (response.status_code, response.json()) == (403, NOT_A_MEMBER)


async def test_without_organization_a_login_binds_to_the_only_one_or_none(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    only = await login(client, user.username)
    assert services.tokens.decode_access_token(only["access_token"]).organization_id is not None

    await create_organization(client, bearer(only))
    several = await login(client, user.username)

    claims = services.tokens.decode_access_token(several["access_token"])
    assert claims.organization_id is None
    assert (await client.get(ITEMS_URL, headers=bearer(several))).status_code == 403


async def test_a_refresh_switches_organization_and_ends_the_old_tokens(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    first = await login(client, user.username)
    item = (await client.post(ITEMS_URL, headers=bearer(first), json={"title": "a"})).json()
    other = await create_organization(client, bearer(first))

    switched = await client.post(
        REFRESH_URL,
        json={"refresh_token": first["refresh_token"], "organization_id": other["id"]},
    )

    assert switched.status_code == 200
    tokens = switched.json()
    claims = services.tokens.decode_access_token(tokens["access_token"])
    assert claims.organization_id == other["id"]
    assert (await client.get(ITEMS_URL, headers=bearer(first))).status_code == 401
    listed = (await client.get(ITEMS_URL, headers=bearer(tokens))).json()
    assert listed["total"] == 0
    missing = await client.get(f"{ITEMS_URL}/{item['id']}", headers=bearer(tokens))
    assert missing.status_code == 404


async def test_a_switch_to_a_non_member_organization_is_403_and_spends_nothing(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    foreign = await create_organization(client, await auth_headers())
    user = await make_user()
    tokens = await login(client, user.username)

    refused = await client.post(
        REFRESH_URL,
        json={"refresh_token": tokens["refresh_token"], "organization_id": foreign["id"]},
    )
    plain = await client.post(REFRESH_URL, json={"refresh_token": tokens["refresh_token"]})

    assert (refused.status_code, refused.json()) == (403, NOT_A_MEMBER)
    assert plain.status_code == 200


async def test_members_are_listed_to_any_member(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner, viewer = await make_user(), await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    await add_member(services, organization["id"], viewer.id, OrganizationRole.VIEWER)
    headers = await bound_headers(client, viewer.username, organization["id"])

    page = (await client.get(_members_url(organization), headers=headers)).json()

    assert page["total"] == 2
    assert {(member["username"], member["role"]) for member in page["items"]} == {
        (owner.username, "owner"),
        (viewer.username, "viewer"),
    }
    assert set(page["items"][0]) == {"user_id", "username", "email", "role", "created_at"}


async def test_a_demotion_counts_from_the_next_request(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner, member = await make_user(), await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
    owner_headers = await bound_headers(client, owner.username, organization["id"])
    member_headers = await bound_headers(client, member.username, organization["id"])
    created = await client.post(ITEMS_URL, headers=member_headers, json={"title": "a"})
    assert created.status_code == 201

    demoted = await client.patch(
        _members_url(organization, member.id), headers=owner_headers, json={"role": "viewer"}
    )
    refused = await client.post(ITEMS_URL, headers=member_headers, json={"title": "b"})

    assert demoted.status_code == 200
    assert demoted.json()["role"] == "viewer"
    assert refused.status_code == 403
    assert (await client.get(ITEMS_URL, headers=member_headers)).json()["total"] == 1


async def test_an_admin_can_neither_grant_nor_take_away_owner(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner, admin, member = await make_user(), await make_user(), await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    await add_member(services, organization["id"], admin.id, OrganizationRole.ADMIN)
    await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
    headers = await bound_headers(client, admin.username, organization["id"])

    grant = await client.patch(
        _members_url(organization, member.id), headers=headers, json={"role": "owner"}
    )
    demote = await client.patch(
        _members_url(organization, owner.id), headers=headers, json={"role": "member"}
    )
    remove = await client.delete(_members_url(organization, owner.id), headers=headers)
    promote = await client.patch(
        _members_url(organization, member.id), headers=headers, json={"role": "admin"}
    )

    for response in (grant, demote, remove):
        assert response.status_code == 403
    assert promote.status_code == 200


async def test_a_member_cannot_remove_another_but_can_leave(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner, member = await make_user(), await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
    headers = await bound_headers(client, member.username, organization["id"])

    refused = await client.delete(_members_url(organization, owner.id), headers=headers)
    left = await client.delete(_members_url(organization, member.id), headers=headers)

    assert refused.status_code == 403
    assert left.status_code == 204
    assert (await client.get(ITEMS_URL, headers=headers)).status_code == 401


async def test_the_last_owner_can_neither_leave_nor_be_demoted(
    client: AsyncClient, make_user: UserFactory
) -> None:
    owner = await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    headers = await bound_headers(client, owner.username, organization["id"])

    demoted = await client.patch(
        _members_url(organization, owner.id), headers=headers, json={"role": "admin"}
    )
    left = await client.delete(_members_url(organization, owner.id), headers=headers)

    assert (demoted.status_code, demoted.json()) == (409, LAST_OWNER)
    assert (left.status_code, left.json()) == (409, LAST_OWNER)


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    app: Any, services: Services, make_user: UserFactory
) -> None:
    refusals = []
    for round_number in range(OWNER_RACE_ROUNDS):
        first, second = await make_user(), await make_user()
        async with (
            client_from(app, loopback(2 * round_number)) as first_client,
            client_from(app, loopback(2 * round_number + 1)) as second_client,
        ):
            organization = await create_organization(
                first_client, bearer(await login(first_client, first.username))
            )
            await add_member(services, organization["id"], second.id, OrganizationRole.OWNER)
            first_headers = await bound_headers(first_client, first.username, organization["id"])
            second_headers = await bound_headers(second_client, second.username, organization["id"])
            answers = await all_at_once(
                [
                    partial(
                        first_client.patch,
                        _members_url(organization, second.id),
                        headers=first_headers,
                        json={"role": "member"},
                    ),
                    partial(
                        second_client.patch,
                        _members_url(organization, first.id),
                        headers=second_headers,
                        json={"role": "member"},
                    ),
                ]
            )
        codes = sorted(answer.status_code for answer in answers)
        # The loser gets 409 from the rule, or 403 when the winner's demotion already took
        # its members:write before its own request was authorized.
        assert codes in ([200, 409], [200, 403]), f"round {round_number}: {codes}"
        refusals.append(codes[0] if codes[0] != 200 else codes[1])
        assert await _owners(services, organization["id"]) == 1
    assert 409 in refusals, refusals


async def test_an_admin_demotion_racing_a_promotion_to_owner_never_overrides_it(
    app: Any, services: Services, make_user: UserFactory
) -> None:
    owner, admin = await make_user(), await make_user()
    async with (
        client_from(app, loopback(0)) as owner_client,
        client_from(app, loopback(1)) as admin_client,
    ):
        organization = await create_organization(
            owner_client, bearer(await login(owner_client, owner.username))
        )
        await add_member(services, organization["id"], admin.id, OrganizationRole.ADMIN)
        owner_headers = await bound_headers(owner_client, owner.username, organization["id"])
        admin_headers = await bound_headers(admin_client, admin.username, organization["id"])
        for round_number in range(PROMOTION_RACE_ROUNDS):
            member = await make_user()
            await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
            url = _members_url(organization, member.id)
            promoted, demoted = await all_at_once(
                [
                    partial(owner_client.patch, url, headers=owner_headers, json={"role": "owner"}),
                    partial(
                        admin_client.patch, url, headers=admin_headers, json={"role": "viewer"}
                    ),
                ]
            )
            role = await _role(services, organization["id"], member.id)
            outcome = f"round {round_number}: {promoted.status_code}, {demoted.status_code}, {role}"
            # An owner's 200 stands: the admin, who may not take the role away, either
            # came first (the promotion then applies to a viewer) or is refused.
            assert (promoted.status_code == 200) == (role == OrganizationRole.OWNER), outcome
            assert promoted.status_code in (200, 409), outcome
            assert demoted.status_code in (200, 403, 409), outcome
            if 409 in (promoted.status_code, demoted.status_code):
                assert ROLE_CHANGED in (promoted.json(), demoted.json()), outcome


async def _role(
    services: Services, organization_id: str, user_id: uuid.UUID
) -> OrganizationRole | None:
    async with services.sessionmaker() as db:
        return await db.scalar(
            select(Membership.role).where(
                Membership.organization_id == uuid.UUID(organization_id),
                Membership.user_id == user_id,
            )
        )


async def test_the_last_owner_cannot_close_their_account_while_others_are_members(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner, member = await make_user(), await make_user()
    organization = await create_organization(
        client, bearer(await login(client, owner.username)), "kept-org"
    )
    await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
    headers = await bound_headers(client, owner.username, organization["id"])

    async with services.sessionmaker() as db:
        sent = Invitation(
            organization_id=uuid.UUID(organization["id"]),
            email="later@example.com",
            role=OrganizationRole.ADMIN,
            token_hash=uuid.uuid4().hex * 2,
            inviter_id=owner.id,
            expires_at=utcnow() + timedelta(days=1),
        )
        db.add(sent)
        await db.commit()

    refused = await _close_account(client, headers)
    promoted = await client.patch(
        _members_url(organization, member.id), headers=headers, json={"role": "owner"}
    )
    closed = await _close_account(client, headers)

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Last owner of 'kept-org': make another member owner there, or remove "
        "the other members, before the account goes"
    }
    assert (promoted.status_code, closed.status_code) == (200, 204)
    assert await _owners(services, organization["id"]) == 1
    async with services.sessionmaker() as db:
        # What the closed account sent dies with it.
        assert (await db.get_one(Invitation, sent.id)).revoked_at is not None


async def test_an_organization_goes_with_the_account_of_its_only_member(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner = await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    headers = await bound_headers(client, owner.username, organization["id"])
    assert (await client.post(ITEMS_URL, headers=headers, json={"title": "a"})).status_code == 201

    closed = await _close_account(client, headers)

    assert closed.status_code == 204
    async with services.sessionmaker() as db:
        assert await db.get(Organization, uuid.UUID(organization["id"])) is None
    # Its trail too: nobody is left to read it, and no purge would find it.
    left = [row.event for row in await audit_rows(services) if row.organization_id is not None]
    assert left == []


async def test_an_owner_closing_their_account_while_the_other_leaves_keeps_an_owner(
    app: Any, services: Services, make_user: UserFactory
) -> None:
    for round_number in range(OWNER_RACE_ROUNDS):
        first, second, member = await make_user(), await make_user(), await make_user()
        async with (
            client_from(app, loopback(2 * round_number)) as first_client,
            client_from(app, loopback(2 * round_number + 1)) as second_client,
        ):
            organization = await create_organization(
                first_client, bearer(await login(first_client, first.username))
            )
            await add_member(services, organization["id"], second.id, OrganizationRole.OWNER)
            await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
            first_headers = await bound_headers(first_client, first.username, organization["id"])
            second_headers = await bound_headers(second_client, second.username, organization["id"])
            closed, left = await all_at_once(
                [
                    partial(_close_account, first_client, first_headers),
                    partial(
                        second_client.delete,
                        _members_url(organization, second.id),
                        headers=second_headers,
                    ),
                ]
            )
        codes = (closed.status_code, left.status_code)
        assert codes in ((204, 409), (409, 204)), f"round {round_number}: {codes}"
        assert await _owners(services, organization["id"]) == 1, f"round {round_number}"


async def test_writes_racing_the_closing_of_their_only_members_account(
    app: Any, services: Services, make_user: UserFactory
) -> None:
    """The only member of two organizations closes their account while inviting, creating
    organizations and switching their session: each write gets 2xx (done first, and gone
    with the account), 401 or 404, never 500, and no organization is left without members."""
    for round_number in range(CLOSING_RACE_ROUNDS):
        user = await make_user()
        first = round_number * 10
        async with client_from(app, loopback(first)) as client:
            organization = await create_organization(
                client, bearer(await login(client, user.username))
            )
            other = await create_organization(client, bearer(await login(client, user.username)))
            headers = await bound_headers(client, user.username, organization["id"])
            # A session of its own: its switch ends its tokens only, not the writers'.
            switching = await bound_login(client, user.username, organization["id"])
        clients = [
            client_from(app, loopback(first + 1 + n)) for n in range(CLOSING_RACE_INVITATIONS + 4)
        ]
        slugs = [f"late-{uuid.uuid4().hex[:10]}" for _ in range(2)]
        invitations_url = f"{ORGANIZATIONS_URL}/{organization['id']}/invitations"
        answers = await all_at_once(
            [
                partial(_close_account, clients[0], headers),
                *(
                    partial(
                        clients[1 + n].post,
                        invitations_url,
                        headers=headers,
                        json={"email": f"guest{n}@example.com", "role": "member"},
                    )
                    for n in range(CLOSING_RACE_INVITATIONS)
                ),
                *(
                    partial(
                        clients[1 + CLOSING_RACE_INVITATIONS + n].post,
                        ORGANIZATIONS_URL,
                        headers=headers,
                        json={"name": slug.title(), "slug": slug},
                    )
                    for n, slug in enumerate(slugs)
                ),
                partial(
                    clients[-1].post,
                    REFRESH_URL,
                    json={
                        "refresh_token": switching["refresh_token"],
                        "organization_id": other["id"],
                    },
                ),
            ]
        )
        for crowd_client in clients:
            await crowd_client.aclose()

        codes = [answer.status_code for answer in answers]
        assert codes[0] == 204, f"round {round_number}: {codes}"
        assert set(codes[1:]) <= {200, 201, 401, 404}, f"round {round_number}: {codes}"
        async with services.sessionmaker() as db:
            left = await db.scalar(
                select(func.count())
                .select_from(Organization)
                .where(Organization.slug.in_([*slugs, organization["slug"], other["slug"]]))
            )
        assert left == 0, f"round {round_number}: {codes}"


async def _close_account(client: AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/v1/users/me", headers=headers, json={"current_password": PASSWORD}
    )


async def _owners(services: Services, organization_id: str) -> int:
    async with services.sessionmaker() as db:
        owners = await db.scalar(
            select(func.count())
            .select_from(Membership)
            .where(
                Membership.organization_id == uuid.UUID(organization_id),
                Membership.role == OrganizationRole.OWNER,
            )
        )
    return owners or 0


async def test_the_organization_trail_holds_its_own_events_only(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    owner, member = await make_user(), await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    other = await create_organization(client, bearer(await login(client, member.username)))
    await add_member(services, organization["id"], member.id, OrganizationRole.MEMBER)
    headers = await bound_headers(client, owner.username, organization["id"])
    await client.patch(
        _members_url(organization, member.id), headers=headers, json={"role": "admin"}
    )

    trail = await client.get(
        f"{ORGANIZATIONS_URL}/{organization['id']}/audit-events", headers=headers
    )
    foreign = await client.get(f"{ORGANIZATIONS_URL}/{other['id']}/audit-events", headers=headers)

    assert trail.status_code == 200
    events = trail.json()["items"]
    assert [event["event"] for event in events] == ["member_role_changed", "organization_created"]
    assert {event["organization_id"] for event in events} == {organization["id"]}
    assert events[0]["details"] == {"role": "admin"}
    assert foreign.status_code == 404


async def test_a_platform_admin_is_no_member_and_reads_no_organization(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    organization = await create_organization(client, await auth_headers())
    admin = await auth_headers(Role.ADMIN)

    for url in (
        _members_url(organization),
        f"{ORGANIZATIONS_URL}/{organization['id']}/audit-events",
    ):
        response = await client.get(url, headers=admin)
        assert response.status_code == 403


async def test_the_platform_admin_trail_holds_no_organization_events(
    client: AsyncClient, services: Services, auth_headers: AuthHeaders
) -> None:
    # Platform administration reads no tenant data: an organization's trail is its own.
    user = await auth_headers()
    await create_organization(client, user)
    # A platform event: a user knocking at the admin's door.
    assert (await client.get(AUDIT_URL, headers=user)).status_code == 403
    admin = await auth_headers(Role.ADMIN)

    listed = await listed_events(client, admin)

    stored = await audit_rows(services)
    platform = [row.event for row in stored if row.organization_id is None]
    assert [row.event for row in stored if row.organization_id] == ["organization_created"]
    assert "admin_access_denied" in platform
    assert [row["event"] for row in listed["items"]] == platform[::-1]
    assert {row["organization_id"] for row in listed["items"]} == {None}


async def test_a_cookie_session_binds_and_switches_like_a_bearer_one(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    own = (
        await client.get(ORGANIZATIONS_URL, headers=bearer(await login(client, user.username)))
    ).json()
    other = await create_organization(client, bearer(await login(client, user.username)))
    form = {"username": user.username, "password": PASSWORD, "organization": own[0]["slug"]}

    logged_in = await client.post(COOKIE_LOGIN_URL, data=form)
    csrf = {"X-CSRF-Token": logged_in.json()["csrf_token"]}
    created = await client.post(ITEMS_URL, headers=csrf, json={"title": "in mine"})
    switched = await client.post(
        COOKIE_REFRESH_URL, headers=csrf, json={"organization_id": other["id"]}
    )
    csrf = {"X-CSRF-Token": switched.json()["csrf_token"]}
    listed = (await client.get(ITEMS_URL)).json()
    refused = await client.post(
        COOKIE_REFRESH_URL, headers=csrf, json={"organization_id": str(uuid.uuid4())}
    )

    assert (logged_in.status_code, created.status_code, switched.status_code) == (200, 201, 200)
    assert listed["total"] == 0
    assert (refused.status_code, refused.json()) == (403, NOT_A_MEMBER)
