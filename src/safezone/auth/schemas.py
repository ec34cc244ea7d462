"""Account and token schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from safezone.auth.roles import Role
from safezone.schemas import Input, Output


class TokenOut(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type name
    expires_in: int = Field(description="Seconds until the token expires.")


class UserCreate(Input):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-@]+$")
    password: str = Field(min_length=10, max_length=256)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
    organisation_id: int | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)


class UserUpdate(Input):
    display_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    organisation_id: int | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)


class UserOut(Output):
    id: int
    username: str
    display_name: str
    role: Role
    organisation_id: int | None
    email: str | None
    phone: str | None
    active: bool
    last_login_at: datetime | None
    created_at: datetime


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    organisation_id: int | None
    via: str
