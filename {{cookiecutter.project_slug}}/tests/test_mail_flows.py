"""Email verification and password reset, with mail delivered to a real SMTP server."""

from datetime import timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import update

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import ActionToken
from {{ cookiecutter.project_slug }}.users.schemas import UserCreate
from {{ cookiecutter.project_slug }}.users.service import create_user

from .conftest import (
    BASE_URL,
    PASSWORD,
    CapturedLogs,
    MailBox,
    UserFactory,
    bearer,
    free_port,
    login,
    make_settings,
)

NEW_PASSWORD = "a completely new passphrase"
REGISTRATION = {
    "username": "mailuser",
    "email": "mailuser@example.com",
    "password": PASSWORD,
}


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    return {**smtp_settings, "FRONTEND_URL": "https://app.example.com"}


async def _expire_all_links(services: Services) -> None:
    async with services.sessionmaker() as session:
        await session.execute(
            update(ActionToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_registration_mails_a_verification_link(
    client: AsyncClient, mailbox: MailBox
) -> None:
    response = await client.post("/api/v1/auth/register", json=REGISTRATION)
    assert response.status_code == 201
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == "mailuser@example.com"
    assert "Verify your email" in mail["Subject"]
    token = mailbox.link_token()
    link = f"https://app.example.com/verify-email?token={token}"
    assert link in mailbox.texts()[0]
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert f'href="{link}"' in str(html.get_content())


async def test_verification_link_verifies_once(client: AsyncClient, mailbox: MailBox) -> None:
    await client.post("/api/v1/auth/register", json=REGISTRATION)
    token = mailbox.link_token()
    first = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert first.status_code == 200
    assert first.json()["email_verified"] is True
    again = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json() == {"detail": "Invalid or expired token"}


async def test_expired_verification_link_is_refused(
    client: AsyncClient, mailbox: MailBox, services: Services
) -> None:
    await client.post("/api/v1/auth/register", json=REGISTRATION)
    await _expire_all_links(services)
    response = await client.post("/api/v1/auth/verify-email", json={"token": mailbox.link_token()})
    assert response.status_code == 400


async def test_verification_link_dies_when_the_address_changes(
    client: AsyncClient, mailbox: MailBox
) -> None:
    await client.post("/api/v1/auth/register", json=REGISTRATION)
    tokens = await login(client, "mailuser")
    changed = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"email": "new@example.com", "current_password": PASSWORD},
    )
    assert changed.status_code == 200
    old_link = mailbox.link_token(0)
    response = await client.post("/api/v1/auth/verify-email", json={"token": old_link})
    assert response.status_code == 400


async def test_unknown_address_gets_202_and_no_mail(client: AsyncClient, mailbox: MailBox) -> None:
    response = await client.post(
        "/api/v1/auth/password-reset/request", json={"email": "nobody@example.com"}
    )
    assert response.status_code == 202
    assert mailbox.messages == []


async def _request_reset(client: AsyncClient, mailbox: MailBox, email: str) -> str:
    response = await client.post("/api/v1/auth/password-reset/request", json={"email": email})
    assert response.status_code == 202
    assert "reset-password?token=" in mailbox.texts()[-1]
    return mailbox.link_token()


async def test_password_reset_sets_the_password_and_ends_every_session(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    session_tokens = await login(client, user.username)
    token = await _request_reset(client, mailbox, user.email.upper())
    response = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(session_tokens))).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session_tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    await login(client, user.username, NEW_PASSWORD)
    assert logs.events("password_reset")
    assert token not in logs.text


async def test_reset_link_works_once(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    token = await _request_reset(client, mailbox, user.email)
    body = {"token": token, "new_password": NEW_PASSWORD}
    assert (await client.post("/api/v1/auth/password-reset/confirm", json=body)).status_code == 200
    again = await client.post("/api/v1/auth/password-reset/confirm", json=body)
    assert again.status_code == 400
    assert again.json() == {"detail": "Invalid or expired token"}


async def test_expired_reset_link_is_refused(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory, services: Services
) -> None:
    user = await make_user()
    token = await _request_reset(client, mailbox, user.email)
    await _expire_all_links(services)
    response = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400


async def test_reset_link_dies_when_the_password_changes(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    token = await _request_reset(client, mailbox, user.email)
    tokens = await login(client, user.username)
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(tokens),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    response = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "yet another passphrase"},
    )
    assert response.status_code == 400


async def test_weak_new_password_is_422_and_the_link_survives(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    token = await _request_reset(client, mailbox, user.email)
    weak = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )
    assert weak.status_code == 422
    assert weak.json()["detail"] == [
        {
            "type": "value_error",
            "loc": ["body", "new_password"],
            "msg": "Password must be at least 12 characters",
        }
    ]
    strong = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert strong.status_code == 200


async def test_reset_mails_to_one_address_are_limited(
    db_url: str, smtp_settings: dict[str, Any], mailbox: MailBox
) -> None:
    app = create_app(make_settings(db_url, RATE_LIMIT_LOGIN="2/minute", **smtp_settings))
    async with app.router.lifespan_context(app):
        services = app.state.services
        data = UserCreate(username="flooded", email="flooded@example.com", password=PASSWORD)
        async with services.sessionmaker() as session:
            await create_user(session, services.hasher, data)
        for number in range(4):
            # A new address each time: only the per-address limit could stop this.
            transport = ASGITransport(app=app, client=(f"203.0.113.{number}", 1000))
            async with AsyncClient(transport=transport, base_url=BASE_URL) as client:
                response = await client.post(
                    "/api/v1/auth/password-reset/request", json={"email": "flooded@example.com"}
                )
                assert response.status_code == 202
            # Else the live link would hold back the next one (mailed_links.py).
            await _expire_all_links(services)
    assert len(mailbox.messages) == 2


async def test_unverified_user_is_refused_when_verification_is_required(
    db_url: str, make_user: UserFactory
) -> None:
    app = create_app(make_settings(db_url, REQUIRE_VERIFIED_EMAIL=True))
    async with app.router.lifespan_context(app):
        user = await make_user()
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.post(
                "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
            )
    assert response.status_code == 403
    assert response.json() == {"detail": "Email address not verified"}


async def test_unreachable_smtp_server_fails_no_request(db_url: str, logs: CapturedLogs) -> None:
    app = create_app(
        make_settings(db_url, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TLS=False)
    )
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.post("/api/v1/auth/register", json=REGISTRATION)
    assert response.status_code == 201
    failure = [line for line in logs.lines() if line["message"] == "mail not sent"]
    assert failure[0]["to"] == "mailuser@example.com"


async def test_without_smtp_host_mail_is_logged_with_its_token_masked(
    db_url: str, logs: CapturedLogs
) -> None:
    app = create_app(make_settings(db_url))
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as client:
            await client.post("/api/v1/auth/register", json=REGISTRATION)
    logged = [line for line in logs.lines() if line["message"].startswith("mail not sent")]
    assert logged[0]["to"] == "mailuser@example.com"
    assert "Open this link to confirm" in logged[0]["body"]
    assert "/verify-email?token=[REDACTED]" in logged[0]["body"]


async def test_malformed_reset_requests_are_422(client: AsyncClient) -> None:
    for body in ({"email": "not-an-address"}, {}):
        response = await client.post("/api/v1/auth/password-reset/request", json=body)
        assert response.status_code == 422
    response = await client.post("/api/v1/auth/password-reset/confirm", json={"token": ""})
    assert response.status_code == 422


async def test_email_change_mails_a_link_to_the_new_address_and_a_notice_to_the_old(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"email": "moved@example.com", "current_password": PASSWORD},
    )
    assert response.status_code == 200
    # The notice first: it matters more than the link, which may fail to be issued.
    recipients = [mail["To"] for mail in mailbox.messages]
    assert recipients == [user.email, "moved@example.com"]
    assert "was changed" in mailbox.messages[0]["Subject"]
    assert "verify-email?token=" in mailbox.texts()[1]
    verified = await client.post("/api/v1/auth/verify-email", json={"token": mailbox.link_token(1)})
    assert verified.json()["email_verified"] is True


async def test_verification_link_can_be_sent_again(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    for email in (user.email, "nobody@example.com"):
        response = await client.post("/api/v1/auth/verify-email/resend", json={"email": email})
        assert response.status_code == 202
    assert [mail["To"] for mail in mailbox.messages] == [user.email]
    verified = await client.post("/api/v1/auth/verify-email", json={"token": mailbox.link_token()})
    assert verified.status_code == 200
    again = await client.post("/api/v1/auth/verify-email/resend", json={"email": user.email})
    assert again.status_code == 202
    assert len(mailbox.messages) == 1


async def test_password_reset_revokes_every_api_key(
    client: AsyncClient, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    created = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "x", "scopes": ["users:read"]}
    )
    key = {"X-API-Key": created.json()["key"]}
    assert (await client.get("/api/v1/users/me", headers=key)).status_code == 200
    token = await _request_reset(client, mailbox, user.email)
    await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert (await client.get("/api/v1/users/me", headers=key)).status_code == 401
