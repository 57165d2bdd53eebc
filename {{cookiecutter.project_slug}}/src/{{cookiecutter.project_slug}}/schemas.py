"""The base of every request body."""

from typing import Any

from pydantic import BaseModel, field_validator


class RequestBody(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text, and no field of ours has a use for it:
        # refuse it on every database alike, as a 422 instead of a failing INSERT.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
