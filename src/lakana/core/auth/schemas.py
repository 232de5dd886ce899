"""Pydantic schemas of accounts and tokens (API input and output)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from lakana.core.auth.rbac import Role


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash or MFA secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    institution_id: int | None
    mfa_enabled: bool
    is_active: bool
    language: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    version: int


class UserCreate(BaseModel):
    """Input to create a user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    institution_id: int | None = None
    password: str = Field(min_length=1, max_length=256)
    language: str = Field(default="fr", pattern="^(fr|en)$")


class UserUpdate(BaseModel):
    """Input to change a user; ``version`` must be the one read (else 409)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1)
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    institution_id: int | None = None
    language: str | None = Field(default=None, pattern="^(fr|en)$")


class TokenCreate(BaseModel):
    """Input to create an API token."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] | None = None
    expires_in_days: int = Field(default=90, ge=1, le=365)


class TokenOut(BaseModel):
    """An API token's metadata (the secret is shown once, at creation)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    """A token just created, with its secret (shown only this once)."""

    token: str
