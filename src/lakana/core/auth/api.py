"""JSON API of accounts: who am I, users, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lakana.core.auth import service
from lakana.core.auth.deps import CurrentActor, CurrentIdentity, DbSession
from lakana.core.auth.schemas import (
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from lakana.core.web.pagination import Page

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=UserOut)
def me(identity: CurrentIdentity) -> UserOut:
    """The authenticated user."""
    return UserOut.model_validate(identity.user)


@router.get("/users", response_model=Page[UserOut])
def list_users(session: DbSession, actor: CurrentActor,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0)] = 0,
               q: Annotated[str | None, Query(max_length=100)] = None) -> Page[UserOut]:
    """Users the caller may see."""
    rows, total = service.list_users(session=session, actor=actor, limit=limit, offset=offset,
                                     q=q)
    return Page[UserOut](items=[UserOut.model_validate(u) for u in rows], total=total,
                         limit=limit, offset=offset)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, session: DbSession, actor: CurrentActor) -> UserOut:
    """Create a user (platform administrators)."""
    user = service.create_user(session=session, actor=actor, email=body.email,
                               full_name=body.full_name, role=body.role, password=body.password,
                               institution_id=body.institution_id, language=body.language)
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: int, session: DbSession, actor: CurrentActor) -> UserOut:
    """One user."""
    return UserOut.model_validate(service.get_user(session=session, actor=actor,
                                                   user_id=user_id))


@router.patch("/users/{user_id}", response_model=UserOut, responses={409: {
    "description": "The user changed since it was read (stale ``version``)."}})
def update_user(user_id: int, body: UserUpdate, session: DbSession, actor: CurrentActor
                ) -> UserOut:
    """Change a user; send the ``version`` you read, a stale one gets 409 Conflict."""
    user = service.update_user(session=session, actor=actor, user_id=user_id,
                               version=body.version, full_name=body.full_name, role=body.role,
                               institution_id=body.institution_id, language=body.language)
    return UserOut.model_validate(user)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(session: DbSession, identity: CurrentIdentity) -> list[TokenOut]:
    """The caller's API tokens."""
    return [TokenOut.model_validate(t) for t in service.list_tokens(
        session=session, actor=identity.actor, user_id=identity.user.id)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, session: DbSession, identity: CurrentIdentity
                 ) -> TokenCreated:
    """Create an API token for the caller; the secret is in this response only."""
    token, secret = service.create_token(session=session, actor=identity.actor,
                                         user=identity.user, name=body.name, scopes=body.scopes,
                                         expires_in_days=body.expires_in_days)
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, session: DbSession, actor: CurrentActor) -> None:
    """Revoke a token now."""
    service.revoke_token(session=session, actor=actor, token_id=token_id)
