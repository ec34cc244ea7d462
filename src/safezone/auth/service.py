"""Accounts, logins, sessions and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from safezone.audit.service import Actor, record
from safezone.auth import security, throttle
from safezone.auth.models import AuthToken, User
from safezone.auth.roles import Role
from safezone.db.base import utcnow
from safezone.orgs.models import Organisation
from safezone.problems import Problem


@dataclass(frozen=True)
class Principal:
    """The person behind a request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    organisation_id: int | None
    via: str  # "session" | "bearer"
    csrf_token: str | None = None
    client: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(id=self.user_id, name=self.username, client=self.client)


class LoginOutcome(StrEnum):
    ok = "ok"
    bad_credentials = "bad_credentials"
    throttled = "throttled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    retry_after: int = 0


def _check_role_org(role: Role, organisation_id: int | None) -> None:
    if role == Role.partner and organisation_id is None:
        raise Problem(422, "partner_needs_organisation")


async def create_user(
    session: AsyncSession,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    organisation_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> User:
    """Add an account; the username is unique regardless of case."""
    username = username.strip()
    if len(password) < security.MIN_PASSWORD_LENGTH:
        raise Problem(422, "password_too_short", min=security.MIN_PASSWORD_LENGTH)
    _check_role_org(role, organisation_id)
    if organisation_id is not None and await session.get(Organisation, organisation_id) is None:
        raise Problem(422, "unknown_organisation", id=organisation_id)
    taken = await session.scalar(
        select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())
    )
    if taken:
        raise Problem(409, "username_taken", username=username)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=security.hash_password(password),
        role=role,
        organisation_id=organisation_id,
        email=email,
        phone=phone,
    )
    session.add(user)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        details={"username": username, "role": role.value, "organisation_id": organisation_id},
    )
    return user


async def login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    client: str | None,
    policy: throttle.ThrottlePolicy,
    via: str,
) -> LoginResult:
    """Check a password with throttling; every attempt goes into the audit chain.

    Never raises for a wrong password, so the caller's transaction commits the failure count.
    """
    now = utcnow()
    keys = throttle.keys_for(username, client)
    wait = await throttle.blocked_for(session, keys, now)
    actor = Actor(id=None, name=username.strip()[:100] or "?", client=client)
    if wait:
        await record(session, actor=actor, action="auth.login_throttled", details={"via": via})
        return LoginResult(LoginOutcome.throttled, retry_after=wait)
    user = await session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )
    good = security.verify_password(user.password_hash if user else None, password)
    if not good or user is None or not user.active:
        await throttle.record_failure(session, keys, now, policy)
        await record(
            session,
            actor=actor,
            action="auth.login_failed",
            details={"via": via, "reason": "inactive" if good and user else "bad_credentials"},
        )
        return LoginResult(LoginOutcome.bad_credentials)
    await throttle.clear(session, username)
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = now
    await record(
        session,
        actor=Actor(user.id, user.username, client),
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
        details={"via": via},
    )
    return LoginResult(LoginOutcome.ok, user=user)


async def issue_token(
    session: AsyncSession, *, user: User, kind: str, lifetime: timedelta, client: str | None
) -> tuple[str, AuthToken]:
    """Create a session or bearer token; returns the secret (shown once) and its row."""
    secret = security.new_token()
    row = AuthToken(
        token_hash=security.token_digest(secret),
        kind=kind,
        user_id=user.id,
        csrf_token=security.new_token() if kind == "session" else None,
        expires_at=utcnow() + lifetime,
        client=client,
    )
    session.add(row)
    # Expired tokens are useless; clearing them here keeps the table small without a cron job.
    await session.execute(delete(AuthToken).where(AuthToken.expires_at < utcnow()))
    await session.flush()
    return secret, row


async def resolve(
    session: AsyncSession, *, secret: str, kind: str, client: str | None
) -> Principal | None:
    """The principal for a token, or None when it is unknown, expired or the user inactive."""
    row = await session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(
            AuthToken.token_hash == security.token_digest(secret),
            AuthToken.kind == kind,
            AuthToken.expires_at > utcnow(),
            User.active.is_(True),
        )
    )
    found = row.first()
    if found is None:
        return None
    token, user = found
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        organisation_id=user.organisation_id,
        via=kind,
        csrf_token=token.csrf_token,
        client=client,
    )


async def revoke(session: AsyncSession, *, secret: str, actor: Actor) -> None:
    """End a session or token (logout)."""
    await session.execute(
        delete(AuthToken).where(AuthToken.token_hash == security.token_digest(secret))
    )
    await record(session, actor=actor, action="auth.logout", entity_type="user", entity_id=actor.id)
