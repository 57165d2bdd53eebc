"""Invitations: mailed, single use, 7 days, for the invited verified address only."""

import uuid
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.organizations.invitations import (
    INVALID_INVITATION,
    MAX_INVITATIONS_PER_HOUR,
    pending,
)
from {{ cookiecutter.project_slug }}.security.scopes import OrganizationRole
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.tenancy.models import Invitation
from {{ cookiecutter.project_slug }}.users.models import User

from .conftest import MailBox, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback
from .organizations import ORGANIZATIONS_URL, add_member, bound_headers, create_organization

ACCEPT_URL = "/api/v1/invitations/accept"
SENDER_RACE_ROUNDS = 3
SENDS_PER_ROUND = 6


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    return {**smtp_settings, "FRONTEND_URL": "https://app.example.com"}


async def _verified(services: Services, make_user: UserFactory) -> User:
    user = await make_user()
    async with services.sessionmaker() as db:
        await db.execute(update(User).where(User.id == user.id).values(email_verified=True))
        await db.commit()
    return user


async def _organization_of(
    client: AsyncClient, make_user: UserFactory
) -> tuple[dict[str, Any], dict[str, str]]:
    owner = await make_user()
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    return organization, await bound_headers(client, owner.username, organization["id"])


def _invitations_url(organization: dict[str, Any]) -> str:
    return f"{ORGANIZATIONS_URL}/{organization['id']}/invitations"


async def test_an_invitation_is_mailed_and_works_once_for_the_invitee(
    client: AsyncClient, services: Services, make_user: UserFactory, mailbox: MailBox
) -> None:
    organization, owner = await _organization_of(client, make_user)
    invitee = await _verified(services, make_user)

    created = await client.post(
        _invitations_url(organization),
        headers=owner,
        json={"email": invitee.email.upper(), "role": "member"},
    )

    assert created.status_code == 201
    assert set(created.json()) == {"id", "email", "role", "invited_by", "created_at", "expires_at"}
    assert created.json()["email"] == invitee.email
    assert mailbox.messages[-1]["To"] == invitee.email
    assert "https://app.example.com/accept-invitation?token=" in mailbox.texts()[-1]
    token = mailbox.link_token()
    headers = bearer(await login(client, invitee.username))
    accepted = await client.post(ACCEPT_URL, headers=headers, json={"token": token})
    again = await client.post(ACCEPT_URL, headers=headers, json={"token": token})

    assert accepted.status_code == 200
    assert accepted.json()["organization_id"] == organization["id"]
    assert accepted.json()["role"] == "member"
    assert (again.status_code, again.json()) == (400, {"detail": INVALID_INVITATION})
    assert await bound_headers(client, invitee.username, organization["id"])
    assert (await client.get(_invitations_url(organization), headers=owner)).json() == []


async def test_only_the_invited_verified_address_may_accept(
    client: AsyncClient, services: Services, make_user: UserFactory, mailbox: MailBox
) -> None:
    organization, owner = await _organization_of(client, make_user)
    unverified, stranger = await make_user(), await _verified(services, make_user)
    await client.post(
        _invitations_url(organization),
        headers=owner,
        json={"email": unverified.email, "role": "viewer"},
    )
    token = mailbox.link_token()

    for user in (unverified, stranger):
        headers = bearer(await login(client, user.username))
        refused = await client.post(ACCEPT_URL, headers=headers, json={"token": token})
        assert refused.status_code == 403
    async with services.sessionmaker() as db:
        await db.execute(update(User).where(User.id == unverified.id).values(email_verified=True))
        await db.commit()
    headers = bearer(await login(client, unverified.username))
    assert (
        await client.post(ACCEPT_URL, headers=headers, json={"token": token})
    ).status_code == 200


async def test_expired_and_revoked_invitations_are_refused(
    client: AsyncClient, services: Services, make_user: UserFactory, mailbox: MailBox
) -> None:
    organization, owner = await _organization_of(client, make_user)
    invitee = await _verified(services, make_user)
    headers = bearer(await login(client, invitee.username))
    url = _invitations_url(organization)
    expiring = await client.post(
        url, headers=owner, json={"email": invitee.email, "role": "member"}
    )
    expiring_token = mailbox.link_token()
    revoked = await client.post(url, headers=owner, json={"email": invitee.email, "role": "member"})
    revoked_token = mailbox.link_token()
    async with services.sessionmaker() as db:
        await db.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(expiring.json()["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()

    listed = (await client.get(url, headers=owner)).json()
    revoking = await client.delete(f"{url}/{revoked.json()['id']}", headers=owner)
    again = await client.delete(f"{url}/{revoked.json()['id']}", headers=owner)

    assert [invitation["id"] for invitation in listed] == [revoked.json()["id"]]
    assert (revoking.status_code, again.status_code) == (204, 404)
    for token in (expiring_token, revoked_token, "not-a-token"):
        refused = await client.post(ACCEPT_URL, headers=headers, json={"token": token})
        assert (refused.status_code, refused.json()) == (400, {"detail": INVALID_INVITATION})


async def test_an_invitation_offers_no_role_above_the_inviters(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    organization, _owner = await _organization_of(client, make_user)
    admin = await make_user()
    await add_member(services, organization["id"], admin.id, OrganizationRole.ADMIN)
    headers = await bound_headers(client, admin.username, organization["id"])
    url = _invitations_url(organization)

    above = await client.post(
        url, headers=headers, json={"email": "a@example.com", "role": "owner"}
    )
    equal = await client.post(
        url, headers=headers, json={"email": "b@example.com", "role": "admin"}
    )

    assert (above.status_code, equal.status_code) == (403, 201)


async def test_a_removed_or_demoted_inviter_takes_back_what_they_could_no_longer_send(
    client: AsyncClient, services: Services, make_user: UserFactory, mailbox: MailBox
) -> None:
    owner, other_owner, admin, removed = [await make_user() for _ in range(4)]
    organization = await create_organization(client, bearer(await login(client, owner.username)))
    for user, role in ((other_owner, OrganizationRole.OWNER), (admin, OrganizationRole.ADMIN)):
        await add_member(services, organization["id"], user.id, role)
    await add_member(services, organization["id"], removed.id, OrganizationRole.ADMIN)
    url = _invitations_url(organization)
    sent = {}
    for inviter, role in (
        (other_owner, "owner"),
        (other_owner, "admin"),
        (admin, "member"),
        (removed, "admin"),
    ):
        headers = await bound_headers(client, inviter.username, organization["id"])
        email = f"{inviter.username}-{role}@example.com"
        created = await client.post(url, headers=headers, json={"email": email, "role": role})
        assert created.status_code == 201
        sent[email] = (created.json(), mailbox.link_token())
    owner_headers = await bound_headers(client, owner.username, organization["id"])
    members_url = f"{ORGANIZATIONS_URL}/{organization['id']}/members"

    changes = [
        await client.patch(
            f"{members_url}/{other_owner.id}", headers=owner_headers, json={"role": "admin"}
        ),
        await client.patch(
            f"{members_url}/{admin.id}", headers=owner_headers, json={"role": "member"}
        ),
        await client.delete(f"{members_url}/{removed.id}", headers=owner_headers),
    ]

    assert [change.status_code for change in changes] == [200, 200, 204]
    listed = (await client.get(url, headers=owner_headers)).json()
    # The demoted owner, now an admin, may still offer admin; nothing else survives.
    assert [(row["email"], row["invited_by"]) for row in listed] == [
        (f"{other_owner.username}-admin@example.com", str(other_owner.id))
    ]
    invitee = await _verified(services, make_user)
    headers = bearer(await login(client, invitee.username))
    _, token = sent[f"{removed.username}-admin@example.com"]
    refused = await client.post(ACCEPT_URL, headers=headers, json={"token": token})
    assert (refused.status_code, refused.json()) == (400, {"detail": INVALID_INVITATION})


async def test_parallel_invitations_stop_exactly_at_the_hourly_cap(
    app: Any, make_user: UserFactory
) -> None:
    attempts = MAX_INVITATIONS_PER_HOUR + 5
    async with client_from(app, loopback(0)) as client:
        organization, owner = await _organization_of(client, make_user)
        clients = [client_from(app, loopback(1 + number)) for number in range(attempts)]
        answers = await all_at_once(
            [
                partial(
                    crowd_client.post,
                    _invitations_url(organization),
                    headers=owner,
                    json={"email": f"guest{number}@example.com", "role": "viewer"},
                )
                for number, crowd_client in enumerate(clients)
            ]
        )
        for crowd_client in clients:
            await crowd_client.aclose()
        pending = (await client.get(_invitations_url(organization), headers=owner)).json()

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] * MAX_INVITATIONS_PER_HOUR + [409] * 5
    assert len(pending) == MAX_INVITATIONS_PER_HOUR


@pytest.mark.parametrize("change", ["remove", "demote"])
async def test_invitations_sent_while_the_sender_loses_the_role_do_not_outlive_it(
    app: Any, services: Services, make_user: UserFactory, change: str
) -> None:
    """An admin's invitations to admin, racing their removal or demotion to member: each
    is refused, or sent before and revoked by the change. None survives to let a second
    account of theirs back in as admin."""
    for round_number in range(SENDER_RACE_ROUNDS):
        owner, sender = await make_user(), await make_user()
        first = round_number * (SENDS_PER_ROUND + 2)
        async with client_from(app, loopback(first)) as client:
            organization = await create_organization(
                client, bearer(await login(client, owner.username))
            )
            await add_member(services, organization["id"], sender.id, OrganizationRole.ADMIN)
            owner_headers = await bound_headers(client, owner.username, organization["id"])
            sender_headers = await bound_headers(client, sender.username, organization["id"])
        member_url = f"{ORGANIZATIONS_URL}/{organization['id']}/members/{sender.id}"
        clients = [client_from(app, loopback(first + 1 + n)) for n in range(SENDS_PER_ROUND + 1)]
        taking_back = (
            partial(clients[0].delete, member_url, headers=owner_headers)
            if change == "remove"
            else partial(
                clients[0].patch, member_url, headers=owner_headers, json={"role": "member"}
            )
        )
        sends = [
            partial(
                sender_client.post,
                _invitations_url(organization),
                headers=sender_headers,
                json={"email": f"second-{round_number}-{n}@example.com", "role": "admin"},
            )
            for n, sender_client in enumerate(clients[1:])
        ]
        answers = await all_at_once([taking_back, *sends])
        for crowd_client in clients:
            await crowd_client.aclose()

        assert answers[0].status_code == (204 if change == "remove" else 200)
        codes = {answer.status_code for answer in answers[1:]}
        assert codes <= {201, 401, 403}, f"round {round_number}: {codes}"
        async with services.sessionmaker() as db:
            surviving = await db.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(Invitation.inviter_id == sender.id, pending(utcnow()))
            )
        assert surviving == 0, f"round {round_number}: {surviving} of {codes}"


async def test_no_other_pending_invitation_lets_a_removed_member_back_in(
    client: AsyncClient, services: Services, make_user: UserFactory, mailbox: MailBox
) -> None:
    """Accepting one invitation revokes the organization's others to that address, and a
    removal those sent to the member meanwhile."""
    organization, owner = await _organization_of(client, make_user)
    invitee = await _verified(services, make_user)
    url = _invitations_url(organization)
    tokens = []
    for role in ("member", "admin"):
        created = await client.post(url, headers=owner, json={"email": invitee.email, "role": role})
        assert created.status_code == 201
        tokens.append(mailbox.link_token())
    headers = bearer(await login(client, invitee.username))

    accepted = await client.post(ACCEPT_URL, headers=headers, json={"token": tokens[0]})
    second = await client.post(ACCEPT_URL, headers=headers, json={"token": tokens[1]})
    created = await client.post(url, headers=owner, json={"email": invitee.email, "role": "viewer"})
    sent_to_a_member = mailbox.link_token()
    removed = await client.delete(
        f"{ORGANIZATIONS_URL}/{organization['id']}/members/{invitee.id}", headers=owner
    )
    back = await client.post(ACCEPT_URL, headers=headers, json={"token": sent_to_a_member})

    assert accepted.status_code == 200
    assert (second.status_code, second.json()) == (400, {"detail": INVALID_INVITATION})
    assert (created.status_code, removed.status_code) == (201, 204)
    assert (back.status_code, back.json()) == (400, {"detail": INVALID_INVITATION})
    assert (await client.get(url, headers=owner)).json() == []
