"""Users and logins: create, list, remove, authenticate, with throttling kept in the database.

Throttling lives in the database, not in a process's memory, so it holds across gunicorn's
workers and restarts: an address or an account with `LIMIT` failed attempts within `WINDOW`
is refused until the oldest of them leaves the window, without a password being checked.
An attempt keeps keyed hashes only (of the e-mail typed and of the client's address).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from puente.accounts import audit, passwords
from puente.accounts.audit import Action, Actor
from puente.accounts.models import LoginAttempt, User
from puente.accounts.roles import Role
from puente.db import Database, as_utc
from puente.privacy import Vault

#: Failed attempts allowed per account and per address within WINDOW: the next is throttled.
LIMIT = 10
WINDOW = timedelta(minutes=15)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """A user that cannot be created or removed as asked: the message says why."""


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown account or wrong password: the same answer for both
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    outcome: Outcome
    user: User | None = None
    #: Seconds until a throttled account or address may try again.
    retry_after: int = 0


def normalize_email(email: str) -> str:
    return email.strip().lower()


def add_user(
    session: Session, email: str, role: str, password: str, now: datetime, actor: Actor = audit.CLI
) -> User:
    email = normalize_email(email)
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an e-mail address")
    try:
        checked = Role(role)
    except ValueError:
        raise AccountError(f"{role!r} is not a role: use {', '.join(r.value for r in Role)}") from None
    problem = passwords.password_problem(password)
    if problem:
        raise AccountError(problem)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"{email} already has an account")
    user = User(
        email=email, role=checked.value, password_hash=passwords.hash_password(password), created_at=now
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, Action.USER_ADDED, now, f"user {user.id}", {"role": checked.value})
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def find_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def remove_user(session: Session, email: str, now: datetime, actor: Actor = audit.CLI) -> None:
    """Remove an account; the last admin stays (someone must be able to manage users)."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise AccountError(f"no account for {normalize_email(email)}")
    if user.role == Role.ADMIN:
        admins = session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN.value))
        if (admins or 0) <= 1:
            raise AccountError("that is the last admin: add another admin first")
    audit.record(session, actor, Action.USER_REMOVED, now, f"user {user.id}", {"role": user.role})
    session.delete(user)


def _key(vault: Vault, scope: str, value: str) -> str:
    return hmac.new(vault.key_for("dashboard-login"), f"{scope}:{value}".encode(), "sha256").hexdigest()


def _throttled_for(session: Session, keys: dict[str, str], now: datetime) -> int:
    """Seconds until every key is under the limit again (0: not throttled)."""
    wait = 0
    for scope, key in keys.items():
        times = list(
            session.scalars(
                select(LoginAttempt.at)
                .where(LoginAttempt.scope == scope, LoginAttempt.key == key, LoginAttempt.at > now - WINDOW)
                .order_by(LoginAttempt.at.desc())
                .limit(LIMIT)
            )
        )
        if len(times) >= LIMIT:
            oldest = as_utc(times[-1])
            wait = max(wait, int((oldest + WINDOW - now).total_seconds()) + 1)
    return wait


def authenticate(
    database: Database, vault: Vault, email: str, password: str, address: str, now: datetime
) -> LoginResult:
    """Check a login and record what happened (attempts, audit).

    The password is checked between two short transactions, never inside one: argon2 takes
    tens of milliseconds on purpose, and an SQLite write lock held that long would make the
    webhook wait.
    """
    email = normalize_email(email)
    keys = {"account": _key(vault, "account", email), "address": _key(vault, "address", address)}
    with database.session(timeout=10) as session:
        # Attempts older than the window count for nothing: forget them here, no purge job needed.
        session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - WINDOW))
        user = session.scalar(select(User).where(User.email == email))
        # Whoever is not a user is named by nobody: what they typed may be a password.
        actor = Actor(user.id, user.email) if user else Actor(None, "unknown account")
        encoded = user.password_hash if user else None
        wait = _throttled_for(session, keys, now)
        if wait:
            _failed(session, keys, now)
            audit.record(session, actor, Action.LOGIN_THROTTLED, now, ok=False)
            return LoginResult(Outcome.THROTTLED, retry_after=wait)
    ok = passwords.verify_password(encoded or passwords.dummy_hash(), password)
    rehashed = (
        passwords.hash_password(password) if ok and encoded and passwords.needs_rehash(encoded) else None
    )
    with database.session(timeout=10) as session:
        if user is None or not ok:
            _failed(session, keys, now)
            audit.record(session, actor, Action.LOGIN_FAILED, now, ok=False)
            return LoginResult(Outcome.WRONG)
        session.execute(
            delete(LoginAttempt).where(LoginAttempt.scope == "account", LoginAttempt.key == keys["account"])
        )
        row = session.get(User, user.id)
        if row is None:  # removed meanwhile
            return LoginResult(Outcome.WRONG)
        if rehashed:
            row.password_hash = rehashed
        row.last_login_at = now
        audit.record(session, actor, Action.LOGIN, now)
        return LoginResult(Outcome.OK, row)


def _failed(session: Session, keys: dict[str, str], now: datetime) -> None:
    session.add_all(LoginAttempt(scope=scope, key=key, at=now) for scope, key in keys.items())
