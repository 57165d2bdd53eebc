"""Two-factor authentication for tests: real TOTP codes from pyotp, and enrolment over HTTP."""

import asyncio
import time
from dataclasses import dataclass

import pyotp
from httpx import AsyncClient, Response

from .conftest import PASSWORD

SETUP_URL = "/api/v1/users/me/mfa/totp"
CONFIRM_URL = "/api/v1/users/me/mfa/totp/confirm"
DISABLE_URL = "/api/v1/users/me/mfa/totp/disable"
TOKEN_URL = "/api/v1/auth/token"
STEP_SECONDS = 30
# A test's codes are made from the step it started in; this much of it must be left, so
# that the step is still the server's while the test runs.
STEP_MARGIN_SECONDS = 5.0
MFA_REQUIRED = {"detail": "MFA code required"}
CODE_REFUSED = {"detail": "Invalid or already used MFA code"}
CODES_LOCKED = {"detail": "Too many wrong MFA codes; use a recovery code"}
MFA_CHALLENGE = 'Bearer error="mfa_required"'


async def fresh_step() -> int:
    """The current TOTP time step, once at least STEP_MARGIN_SECONDS of it are left."""
    left = STEP_SECONDS - time.time() % STEP_SECONDS
    if left < STEP_MARGIN_SECONDS:
        await asyncio.sleep(left + 0.1)
    return int(time.time() // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    recovery_codes: list[str]
    # The step the test runs in: its code and the next one are still unused.
    step: int


async def enable_two_factor(client: AsyncClient, headers: dict[str, str]) -> Enrolment:
    """Set up and confirm TOTP for the caller of `headers`. The confirmation spends the
    previous step's code (one step of drift), so the current and next codes stay unused."""
    step = await fresh_step()
    setup = await client.post(SETUP_URL, headers=headers, json={"current_password": PASSWORD})
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    confirm = await client.post(
        CONFIRM_URL, headers=headers, json={"code": code_at(secret, step - 1)}
    )
    assert confirm.status_code == 200, confirm.text
    return Enrolment(secret, confirm.json()["recovery_codes"], step)


async def token_login(
    client: AsyncClient, username: str, otp: str | None = None, password: str = PASSWORD
) -> Response:
    form = {"username": username, "password": password}
    if otp is not None:
        form["otp"] = otp
    return await client.post(TOKEN_URL, data=form)
