"""Quiet hours: no outbound message starts while the recipient's clock reads inside them.

`QUIET_HOURS` (default `21:00-08:00`, `off` to disable) is one window of local time, read
in each recipient's own time zone (their jurisdiction's). A window may wrap past midnight
(`21:00-08:00`) or not (`01:00-05:00`); its start is quiet, its end is not.

The rule is the recipient's wall clock: a moment is quiet when the local time it shows
lies in the window, so quiet hours end at the first moment the clock shows a time outside
it. Around a daylight-saving change that means:

- an end the clocks skip (spring forward: `02:30` on the second Sunday of March does not
  exist in Los Angeles) ends quiet hours when the clocks jump past it, at 03:00 PDT;
- an end the clocks show twice (fall back: `01:30` on the first Sunday of November) ends
  them at its first showing; if the window also covers the repeated hour's start, the
  clock reads quiet hours again when it goes back, and so does Puente: what the phone
  shows is what counts;
- a clock that goes back to before the window's start (a window starting at 01:30, on
  that November night at 01:59 PDT) leaves quiet hours at that moment.

A night that spans a change lasts an hour less or more in elapsed time: the end is always
the same clock time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from puente.broadcasts.zones import place_zone
from puente.config import ConfigError

#: The setting's default: the evening and the night.
DEFAULT_QUIET_HOURS = "21:00-08:00"
#: What disables quiet hours (any case).
OFF = "off"

_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class QuietHours:
    """From `start` (quiet) to `end` (not quiet), local time; wraps past midnight when start > end."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours cannot start and end at the same time")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local clock times, without a time zone")

    @property
    def wraps(self) -> bool:
        """True for a window that runs past midnight (21:00-08:00)."""
        return self.start > self.end

    def contains(self, clock: time) -> bool:
        """Whether a local clock time is quiet: start inclusive, end exclusive."""
        if self.wraps:
            return clock >= self.start or clock < self.end
        return self.start <= clock < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(raw: str) -> QuietHours | None:
    """`QUIET_HOURS` as a window (`21:00-08:00`, `9:30 - 7:00`), or None for `off`."""
    text = raw.strip()
    if text.lower() == OFF:
        return None
    expected = f"QUIET_HOURS={raw!r} is not HH:MM-HH:MM (e.g. {DEFAULT_QUIET_HOURS}) or {OFF}"
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise ConfigError(expected)
    hours_1, minutes_1, hours_2, minutes_2 = (int(g) for g in match.groups())
    if max(hours_1, hours_2) > 23 or max(minutes_1, minutes_2) > 59:
        raise ConfigError(expected)
    start, end = time(hours_1, minutes_1), time(hours_2, minutes_2)
    if start == end:
        raise ConfigError(f"QUIET_HOURS={raw!r} starts and ends at the same time: give HH:MM-HH:MM or {OFF}")
    return QuietHours(start, end)


def quiet_until(window: QuietHours | None, now: datetime, timezone: str) -> datetime | None:
    """When quiet hours end for someone in `timezone` (UTC), or None when `now` is not quiet there.

    `now` must be timezone-aware. An unknown zone is read as America/Los_Angeles (see
    `place_zone`). The answer is always after `now` and never itself quiet; it is within
    24 hours of the clock (elapsed time: an hour more across a fall-back night).
    """
    if window is None:
        return None
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = place_zone(timezone)
    local = now.astimezone(zone)
    if not window.contains(local.time()):
        return None
    day = local.date()
    if window.wraps and local.time() >= window.start:
        day += timedelta(days=1)  # in the evening: quiet until tomorrow morning
    # Quiet hours end when the clock reaches `end`, or jumps out of the window at a
    # daylight-saving change before that (back to before a 01:30 start, say). Were the clocks
    # to jump straight back into the window instead (a spring-forward skipping all the open
    # time of a window that leaves less than an hour open), the next day's end is the one.
    for _ in range(3):
        for moment in _moments(day, window.end, zone):
            if moment <= now:
                continue
            jump = _jump(now, moment, zone)
            if jump is not None and not window.contains(jump.astimezone(zone).time()):
                return jump
            if not window.contains(moment.astimezone(zone).time()):
                return moment
        day += timedelta(days=1)
    raise AssertionError(f"quiet hours {window} never end in {zone.key}")


def _moments(day: date, clock: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC moments at which the clock in `zone` shows `clock` on `day`, or jumps past it.

    One moment for an ordinary time; two for a time shown twice (fall back), earliest
    first; for a time the clocks skip (spring forward), the moment they jump.
    """
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first < second:
        return [first, second]  # shown twice: fold=0 reads it with the earlier, larger offset
    # Skipped: fold=1 reads it with the offset after the jump (a moment before the jump),
    # fold=0 with the offset before it (a moment after). The jump lies between the two.
    jump = _jump(second, first, zone)
    assert jump is not None
    return [jump]


def _jump(start: datetime, stop: datetime, zone: ZoneInfo) -> datetime | None:
    """The moment in (start, stop] when `zone` changes to its offset at `stop`; None if it never does.

    Found by halving, to the second (zones change offset on whole seconds). The ranges
    asked about are at most two days long, and no zone changes twice within two days.
    """
    offset = stop.astimezone(zone).utcoffset()
    before = start.replace(microsecond=0)
    if before.astimezone(zone).utcoffset() == offset:
        return None
    after = stop
    while after - before > _SECOND:
        middle = before + (after - before) // _SECOND // 2 * _SECOND
        if middle.astimezone(zone).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return after
