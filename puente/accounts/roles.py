"""The three roles, and what each may do: a closed set, ranked."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a dashboard user is. Each role may do everything the roles below it may."""

    VIEWER = "viewer"  # reads every page
    COORDINATOR = "coordinator"  # edits the directory and hearings, sends broadcasts
    ADMIN = "admin"  # manages users, reveals a number (audited)

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.COORDINATOR: 1, Role.ADMIN: 2}
