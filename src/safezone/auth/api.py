"""Token endpoint (OAuth2 password flow), the caller's identity, and user administration."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, status
from sqlalchemy import func, select

from safezone.audit.service import record
from safezone.auth import security, service
from safezone.auth.access import Access, client_address
from safezone.auth.models import AuthToken, User
from safezone.auth.roles import ALL_ROLES, Role
from safezone.auth.schemas import MeOut, TokenOut, UserCreate, UserOut, UserUpdate
from safezone.auth.service import LoginOutcome, Principal
from safezone.auth.throttle import ThrottlePolicy
from safezone.deps import DatabaseDep, ReadSession, SettingsDep
from safezone.problems import Problem
from safezone.schemas import ListOut, PageDep
from safezone.settings import Settings

router = APIRouter(tags=["auth"])
Admin = Annotated[Principal, Depends(Access({Role.admin}))]
Anyone = Annotated[Principal | None, Depends(Access.anyone())]
LoggedIn = Annotated[Principal, Depends(Access(ALL_ROLES))]


def throttle_policy(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        max_failures=settings.login_max_failures,
        window=timedelta(seconds=settings.login_window_seconds),
        block=timedelta(seconds=settings.login_block_seconds),
    )


@router.post("/auth/token", response_model=TokenOut, summary="Get a bearer token (password)")
async def token(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    _: Anyone,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenOut:
    """OAuth2 password grant: form fields ``username`` and ``password``."""
    client = client_address(request)
    lifetime = timedelta(hours=settings.token_hours)
    async with db.write() as session:
        result = await service.login(
            session,
            username=username,
            password=password,
            client=client,
            policy=throttle_policy(settings),
            via="token",
        )
        secret = None
        if result.outcome == LoginOutcome.ok and result.user is not None:
            secret, _row = await service.issue_token(
                session, user=result.user, kind="bearer", lifetime=lifetime, client=client
            )
    # Raised after the block so that the failure (and its audit entry) is committed.
    if result.outcome == LoginOutcome.throttled:
        raise Problem(
            429,
            "login_throttled",
            seconds=result.retry_after,
            headers={"Retry-After": str(result.retry_after)},
        )
    if secret is None:
        raise Problem(401, "bad_credentials", headers={"WWW-Authenticate": "Bearer"})
    return TokenOut(access_token=secret, expires_in=int(lifetime.total_seconds()))


@router.post(
    "/auth/revoke", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke the bearer token"
)
async def revoke(request: Request, db: DatabaseDep, who: LoggedIn) -> None:
    """End the token used for this request (scripts' logout)."""
    _, _, secret = request.headers.get("authorization", "").partition(" ")
    if who.via != "bearer" or not secret:
        raise Problem(400, "bad_request")
    async with db.write() as session:
        await service.revoke(session, secret=secret.strip(), actor=who.actor)


@router.get("/auth/me", response_model=MeOut, summary="Who am I")
async def me(who: LoggedIn) -> MeOut:
    return MeOut(
        id=who.user_id,
        username=who.username,
        display_name=who.display_name,
        role=who.role,
        organisation_id=who.organisation_id,
        via=who.via,
    )


@router.get("/users", response_model=ListOut[UserOut], summary="List accounts")
async def list_users(session: ReadSession, _: Admin, page: PageDep) -> dict[str, Any]:
    total = await session.scalar(select(func.count()).select_from(User))
    rows = await session.scalars(
        select(User).order_by(User.id).limit(page.limit).offset(page.offset)
    )
    return {"data": rows.all(), "count": total, "limit": page.limit, "offset": page.offset}


@router.post("/users", response_model=UserOut, status_code=201, summary="Add an account")
async def create_user(db: DatabaseDep, who: Admin, body: UserCreate) -> User:
    async with db.write() as session:
        return await service.create_user(session, actor=who.actor, **body.model_dump())


@router.get("/users/{user_id}", response_model=UserOut, summary="One account")
async def get_user(session: ReadSession, _: Admin, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise Problem(404, "entity_not_found", entity="user", id=user_id)
    return user


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change an account")
async def update_user(db: DatabaseDep, who: Admin, user_id: int, body: UserUpdate) -> User:
    values = body.model_dump(exclude_unset=True)
    async with db.write() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise Problem(404, "entity_not_found", entity="user", id=user_id)
        changes: dict[str, Any] = {}
        if (password := values.pop("password", None)) is not None:
            user.password_hash = security.hash_password(password)
            changes["password"] = "changed"  # noqa: S105 - an audit note, not a secret
        for key, value in values.items():
            if getattr(user, key) != value:
                changes[key] = {"from": str(getattr(user, key)), "to": str(value)}
                setattr(user, key, value)
        if user.role == Role.partner and user.organisation_id is None:
            raise Problem(422, "partner_needs_organisation")
        if "password" in changes or "active" in changes or "role" in changes:
            # Changing who someone is ends their current sessions and tokens.
            for tok in await session.scalars(select(AuthToken).where(AuthToken.user_id == user.id)):
                await session.delete(tok)
        if changes:
            await record(
                session,
                actor=who.actor,
                action="user.update",
                entity_type="user",
                entity_id=user.id,
                details={"changes": changes},
            )
        await session.flush()
        return user
