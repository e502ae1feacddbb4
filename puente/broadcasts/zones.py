"""A place's time zone, by its IANA name, with the directory's default when the name is unknown."""

from __future__ import annotations

import logging
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from puente.directory.schema import DEFAULT_TIMEZONE

logger = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def place_zone(name: str) -> ZoneInfo:
    """The zone named `name` (America/Los_Angeles, Pacific/Honolulu…).

    An unknown name falls back to America/Los_Angeles rather than failing a send: the
    directory import refuses a jurisdiction whose zone is not an IANA name, so an unknown
    one here is a stored row this machine's tz database does not know (an older tzdata),
    and every place Puente serves is in California. A warning names it, once per process.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("time zone %r is unknown here: using %s", name, DEFAULT_TIMEZONE)
        return ZoneInfo(DEFAULT_TIMEZONE)
