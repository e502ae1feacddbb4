"""The core's services and the signed-in user, from a request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from puente.accounts.roles import Role
from puente.services import Services


def core() -> Services:
    found: Services = current_app.extensions["puente"]
    return found


@dataclass(frozen=True)
class CurrentUser:
    """Who is signed in, as read at the start of the request."""

    id: int
    email: str
    role: Role
    language: str | None

    def can(self, role: Role | str) -> bool:
        return self.role.allows(Role(role))


def current_user() -> CurrentUser | None:
    user: CurrentUser | None = g.get("user")
    return user


def signed_in() -> CurrentUser:
    """The signed-in user, inside a view that requires one (the blueprint checked it)."""
    user = current_user()
    if user is None:  # unreachable behind the blueprint's check: fail closed all the same
        raise PermissionError("no user signed in")
    return user
