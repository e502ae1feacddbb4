"""argon2id password hashes (argon2-cffi, the reference implementation's binding).

Argon2id is memory-hard: a stolen table of hashes costs an attacker memory as well as
time per guess. The parameters are argon2-cffi's defaults (RFC 9106's second
recommendation: 64 MiB, 3 passes, 4 lanes). Measured on this project's 2 shared cores: about
0.2 s a check at a load of 2.7, 1.4 s while the test suite ran beside it. Fine for a dashboard's
logins; it is why throttling refuses the eleventh attempt before checking any password.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Shorter passwords are refused when a user is created.
MIN_LENGTH = 12
#: Longer ones too: argon2 would take them, but nothing real is this long.
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """Whether `password` matches; never raises for a wrong one or a damaged hash."""
    try:
        return bool(_hasher().verify(encoded, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """True when the hash was made with weaker parameters than today's: rehash on login."""
    try:
        return bool(_hasher().check_needs_rehash(encoded))
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against for an unknown account, so its answer takes as long as a real one."""
    return hash_password("puente: no such account")


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password is shorter than {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password is longer than {MAX_LENGTH} characters"
    return None
