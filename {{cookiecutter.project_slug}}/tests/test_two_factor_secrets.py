"""The parts under two-factor authentication: TOTP steps, encryption keys, their settings."""

import uuid

import pyotp
import pytest
from pydantic import ValidationError

from {{ cookiecutter.project_slug }}.security import totp
from {{ cookiecutter.project_slug }}.security.encryption import SecretBox, UndecryptableSecretError
from {{ cookiecutter.project_slug }}.security.recovery_codes import (
    hash_recovery_code,
    looks_like_recovery_code,
    new_recovery_code,
)

from .conftest import TEST_SECRET_KEY, make_settings

OLD_KEY = "old-" + "o" * 40
NEW_KEY = "new-" + "n" * 40
SECRET = pyotp.random_base32(32)
NOW = 1_800_000_015.0
STEP = int(NOW // 30)


def test_a_code_matches_its_own_step_within_one_step_of_drift() -> None:
    code = pyotp.TOTP(SECRET).at
    for offset in (-1, 0, 1):
        assert totp.matching_step(SECRET, code((STEP + offset) * 30), now=NOW) == STEP + offset
    for offset in (-2, 2):
        assert totp.matching_step(SECRET, code((STEP + offset) * 30), now=NOW) is None


@pytest.mark.parametrize("junk", ["", "12345", "1234567", "12 345", "١٢٣٤٥٦", "abcdef"])
def test_what_is_not_six_ascii_digits_is_no_code(junk: str) -> None:
    assert totp.matching_step(SECRET, junk, now=NOW) is None


def test_recovery_codes_are_read_as_typed_and_salted_per_user() -> None:
    code = new_recovery_code()
    assert looks_like_recovery_code(code.upper().replace("-", " "))
    assert not looks_like_recovery_code(code[:-1])
    first, second = uuid.uuid4(), uuid.uuid4()
    typed = code.upper().replace("-", "")
    assert hash_recovery_code(first, code) == hash_recovery_code(first, typed)
    assert hash_recovery_code(first, code) != hash_recovery_code(second, code)


def test_a_new_first_key_encrypts_and_the_old_ones_still_decrypt() -> None:
    made_before = SecretBox([OLD_KEY]).encrypt(SECRET)
    rotated = SecretBox([NEW_KEY, OLD_KEY])
    assert rotated.decrypt(made_before) == SECRET
    made_after = rotated.encrypt(SECRET)
    assert SecretBox([NEW_KEY]).decrypt(made_after) == SECRET
    with pytest.raises(UndecryptableSecretError):
        SecretBox([OLD_KEY]).decrypt(made_after)
    moved = rotated.reencrypt(made_before)
    assert SecretBox([NEW_KEY]).decrypt(moved) == SECRET


def test_the_keys_are_secret_key_unless_mfa_encryption_key_lists_some(db_url: str) -> None:
    assert make_settings(db_url).mfa_encryption_keys == [TEST_SECRET_KEY]
    assert make_settings(db_url, MFA_ENCRYPTION_KEY="").mfa_encryption_keys == [TEST_SECRET_KEY]
    settings = make_settings(db_url, MFA_ENCRYPTION_KEY=f" {NEW_KEY} , {OLD_KEY} ")
    assert settings.mfa_encryption_keys == [NEW_KEY, OLD_KEY]


@pytest.mark.parametrize("value", [f"{NEW_KEY},short-key", f"{NEW_KEY},changeme", " , "])
def test_a_weak_or_empty_key_list_stops_start_up_without_showing_a_key(
    db_url: str, value: str
) -> None:
    with pytest.raises(ValidationError) as error:
        make_settings(db_url, MFA_ENCRYPTION_KEY=value)
    message = str(error.value)
    assert "MFA_ENCRYPTION_KEY" in message
    assert NEW_KEY not in message
    assert "short-key" not in message
