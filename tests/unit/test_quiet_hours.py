"""Quiet hours, read on the recipient's clock; every `now` is given, never the real time of day."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puente.broadcasts.quiet import QuietHours, parse_quiet_hours, quiet_until
from puente.config import ConfigError

LA = "America/Los_Angeles"
HONOLULU = "Pacific/Honolulu"
NIGHT = QuietHours(time(21), time(8))  # the default, 21:00-08:00


def local(
    zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int = 0, *, fold: int = 0
) -> datetime:
    """A moment given as the clock in `zone` shows it, in UTC (as the sender's clock gives it)."""
    shown = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold)
    return shown.astimezone(UTC)


def offset(moment: datetime, zone: str) -> timedelta:
    """The UTC offset of `zone` at `moment`."""
    shift = moment.astimezone(ZoneInfo(zone)).utcoffset()
    assert shift is not None
    return shift


# --- parsing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("21:00-08:00", QuietHours(time(21), time(8))),
        ("9:30-7:05", QuietHours(time(9, 30), time(7, 5))),
        (" 21:00 - 08:00 ", QuietHours(time(21), time(8))),
        ("01:00-05:00", QuietHours(time(1), time(5))),
        ("00:00-23:59", QuietHours(time(0), time(23, 59))),
    ],
)
def test_windows_parse(raw: str, expected: QuietHours) -> None:
    assert parse_quiet_hours(raw) == expected


@pytest.mark.parametrize("raw", ["off", "OFF", " Off "])
def test_off_disables_quiet_hours(raw: str) -> None:
    assert parse_quiet_hours(raw) is None
    assert quiet_until(None, local(LA, 2025, 6, 1, 23, 0), LA) is None


@pytest.mark.parametrize(
    "raw", ["", "21-08", "9pm-8am", "21:00", "21:00-", "24:00-08:00", "21:60-08:00", "21:00-08:00:00",
            "21.00-08.00", "-21:00-08:00", "21:00–08:00", "never", "123:00-08:00"],
)
def test_a_bad_window_is_one_line_naming_the_setting_and_the_form(raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_quiet_hours(raw)
    message = str(raised.value)
    assert message.startswith(f"QUIET_HOURS={raw!r} ") and "HH:MM-HH:MM" in message and "off" in message
    assert "\n" not in message


def test_a_window_that_starts_where_it_ends_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"QUIET_HOURS='08:00-8:00' starts and ends at the same time"):
        parse_quiet_hours("08:00-8:00")
    with pytest.raises(ValueError, match="same time"):
        QuietHours(time(8), time(8))


# --- inside and outside, boundaries -------------------------------------------------------------------


def test_inside_a_wrapping_window_quiet_hours_end_the_next_morning() -> None:
    evening = local(LA, 2025, 6, 10, 22, 15)
    assert quiet_until(NIGHT, evening, LA) == local(LA, 2025, 6, 11, 8, 0)
    after_midnight = local(LA, 2025, 6, 11, 3, 0)
    assert quiet_until(NIGHT, after_midnight, LA) == local(LA, 2025, 6, 11, 8, 0)


def test_outside_the_window_nothing_waits() -> None:
    for hour in (8, 12, 20):
        assert quiet_until(NIGHT, local(LA, 2025, 6, 10, hour, 0), LA) is None
    assert quiet_until(NIGHT, local(LA, 2025, 6, 10, 20, 59, 59), LA) is None


def test_the_start_is_quiet_and_the_end_is_not() -> None:
    assert quiet_until(NIGHT, local(LA, 2025, 6, 10, 21, 0), LA) == local(LA, 2025, 6, 11, 8, 0)
    assert quiet_until(NIGHT, local(LA, 2025, 6, 11, 7, 59, 59), LA) == local(LA, 2025, 6, 11, 8, 0)
    assert quiet_until(NIGHT, local(LA, 2025, 6, 11, 8, 0), LA) is None


def test_a_window_that_does_not_wrap() -> None:
    small_hours = QuietHours(time(1), time(5))
    assert quiet_until(small_hours, local(LA, 2025, 6, 10, 0, 59), LA) is None
    assert quiet_until(small_hours, local(LA, 2025, 6, 10, 1, 0), LA) == local(LA, 2025, 6, 10, 5, 0)
    assert quiet_until(small_hours, local(LA, 2025, 6, 10, 4, 30), LA) == local(LA, 2025, 6, 10, 5, 0)
    assert quiet_until(small_hours, local(LA, 2025, 6, 10, 5, 0), LA) is None
    assert quiet_until(small_hours, local(LA, 2025, 6, 10, 23, 0), LA) is None


def test_the_answer_is_utc_and_now_may_come_in_any_zone() -> None:
    now = datetime(2025, 6, 10, 22, 15, tzinfo=ZoneInfo(LA))
    until = quiet_until(NIGHT, now, LA)
    assert until == datetime(2025, 6, 11, 15, 0, tzinfo=UTC) and until.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        quiet_until(NIGHT, datetime(2025, 6, 10, 22, 15), LA)


# --- time zones ---------------------------------------------------------------------------------------


def test_each_recipient_is_read_on_their_own_clock() -> None:
    """23:30 in Los Angeles is 20:30 in Honolulu: one waits, the other does not."""
    now = local(LA, 2025, 6, 10, 23, 30)
    assert quiet_until(NIGHT, now, LA) == local(LA, 2025, 6, 11, 8, 0)
    assert quiet_until(NIGHT, now, HONOLULU) is None
    # An hour later Honolulu's evening is quiet too, until its own morning (three hours later in UTC).
    later = now + timedelta(hours=1)
    assert quiet_until(NIGHT, later, HONOLULU) == local(HONOLULU, 2025, 6, 11, 8, 0)
    assert local(HONOLULU, 2025, 6, 11, 8, 0) - local(LA, 2025, 6, 11, 8, 0) == timedelta(hours=3)


def test_new_york_is_still_asleep_when_los_angeles_is_up() -> None:
    now = local(LA, 2025, 6, 10, 23, 30)  # 02:30 in New York
    assert quiet_until(NIGHT, now, "America/New_York") == local("America/New_York", 2025, 6, 11, 8, 0)
    morning = local(LA, 2025, 6, 11, 5, 30)  # 08:30 in New York
    assert quiet_until(NIGHT, morning, "America/New_York") is None
    assert quiet_until(NIGHT, morning, LA) == local(LA, 2025, 6, 11, 8, 0)


def test_an_unknown_zone_is_read_as_los_angeles(caplog: pytest.LogCaptureFixture) -> None:
    now = local(LA, 2025, 6, 10, 23, 30)
    with caplog.at_level(logging.WARNING):
        assert quiet_until(NIGHT, now, "Mars/Olympus_Mons") == quiet_until(NIGHT, now, LA)
        assert quiet_until(NIGHT, now, "") == quiet_until(NIGHT, now, LA)
    assert "Mars/Olympus_Mons" in caplog.text


# --- daylight saving time -----------------------------------------------------------------------------


def test_a_spring_forward_night_is_an_hour_shorter_and_ends_at_eight_on_the_clock() -> None:
    """2025-03-09: at 02:00 PST the clocks jump to 03:00 PDT."""
    evening = local(LA, 2025, 3, 8, 22, 0)
    until = quiet_until(NIGHT, evening, LA)
    assert until == local(LA, 2025, 3, 9, 8, 0) == datetime(2025, 3, 9, 15, 0, tzinfo=UTC)
    assert until is not None and until - evening == timedelta(hours=9)


def test_a_fall_back_night_is_an_hour_longer_and_ends_at_eight_on_the_clock() -> None:
    """2025-11-02: at 02:00 PDT the clocks go back to 01:00 PST."""
    evening = local(LA, 2025, 11, 1, 22, 0)
    until = quiet_until(NIGHT, evening, LA)
    assert until == local(LA, 2025, 11, 2, 8, 0) == datetime(2025, 11, 2, 16, 0, tzinfo=UTC)
    assert until is not None and until - evening == timedelta(hours=11)


def test_an_end_the_clocks_skip_is_the_moment_they_jump() -> None:
    """02:30 does not exist on 2025-03-09 in Los Angeles: quiet hours end at the jump, 03:00 PDT."""
    window = QuietHours(time(22), time(2, 30))
    jump = datetime(2025, 3, 9, 10, 0, tzinfo=UTC)
    assert jump == local(LA, 2025, 3, 9, 3, 0)
    assert quiet_until(window, local(LA, 2025, 3, 8, 23, 0), LA) == jump
    assert quiet_until(window, local(LA, 2025, 3, 9, 1, 59, 59), LA) == jump
    assert quiet_until(window, jump, LA) is None
    assert quiet_until(window, jump - timedelta(seconds=1), LA) == jump


def test_an_end_the_clocks_show_twice_is_its_first_showing_and_the_repeat_is_quiet_again() -> None:
    """01:30 happens twice on 2025-11-02 in Los Angeles (PDT, then PST)."""
    window = QuietHours(time(22), time(1, 30))
    first = local(LA, 2025, 11, 2, 1, 30, fold=0)
    second = local(LA, 2025, 11, 2, 1, 30, fold=1)
    assert second - first == timedelta(hours=1)
    assert quiet_until(window, local(LA, 2025, 11, 1, 23, 0), LA) == first
    assert quiet_until(window, first, LA) is None
    assert quiet_until(window, local(LA, 2025, 11, 2, 1, 45, fold=0), LA) is None
    # The clocks go back to 01:00: the clock reads inside the window again, until 01:30 PST.
    assert quiet_until(window, local(LA, 2025, 11, 2, 1, 0, fold=1), LA) == second
    assert quiet_until(window, second, LA) is None


def test_a_clock_that_goes_back_to_before_the_start_leaves_quiet_hours_then() -> None:
    """01:30-02:00 on 2025-11-02: at 01:59:59 PDT the clock goes back to 01:00 PST, outside the window."""
    window = QuietHours(time(1, 30), time(2, 0))
    going_back = datetime(2025, 11, 2, 9, 0, tzinfo=UTC)
    assert going_back == local(LA, 2025, 11, 2, 1, 0, fold=1)
    assert quiet_until(window, local(LA, 2025, 11, 2, 1, 30, fold=0), LA) == going_back
    assert quiet_until(window, going_back, LA) is None
    # Then 01:30 PST comes, and quiet hours with it, until 02:00 PST.
    assert quiet_until(window, local(LA, 2025, 11, 2, 1, 30, fold=1), LA) == local(LA, 2025, 11, 2, 2, 0)


def test_honolulu_has_no_daylight_saving() -> None:
    evening = local(HONOLULU, 2025, 3, 8, 22, 0)
    until = quiet_until(NIGHT, evening, HONOLULU)
    assert until is not None and until - evening == timedelta(hours=10)


def test_a_window_whose_open_time_the_clocks_skip_ends_the_next_day() -> None:
    """02:30-02:45 is all this window leaves open, and 2025-03-09 has no 02:xx in Los Angeles."""
    window = QuietHours(time(2, 45), time(2, 30))
    evening = local(LA, 2025, 3, 8, 22, 0)
    assert quiet_until(window, evening, LA) == local(LA, 2025, 3, 10, 2, 30)


# --- properties ---------------------------------------------------------------------------------------

ZONES = ["America/Los_Angeles", "Pacific/Honolulu", "America/New_York", "America/Phoenix", "Asia/Manila",
         "Asia/Seoul", "Europe/London", "Australia/Sydney"]
# 2024-2026 in UTC: every kind of day, daylight-saving changes included (both hemispheres).
MOMENTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31),
                       timezones=st.just(UTC))
CLOCK = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@st.composite
def windows(draw: st.DrawFn) -> QuietHours:
    """Any window leaving more than an hour a day open (a spring-forward could skip less)."""
    start = draw(CLOCK)
    open_minutes = draw(st.integers(min_value=61, max_value=24 * 60 - 1))
    end_at = datetime.combine(datetime(2000, 1, 1), start) - timedelta(minutes=open_minutes)
    return QuietHours(start, end_at.time())


@given(window=windows(), now=MOMENTS, zone=st.sampled_from(ZONES))
def test_quiet_hours_end_after_now_within_a_day_and_the_end_is_not_quiet(
    window: QuietHours, now: datetime, zone: str
) -> None:
    until = quiet_until(window, now, zone)
    clock = now.astimezone(ZoneInfo(zone)).time()
    assert (until is None) == (not window.contains(clock))
    if until is None:
        return
    assert until.tzinfo is UTC and until > now
    # Within 24 hours of the clock: in elapsed time, an hour more when the clocks go back meanwhile.
    fell_back = offset(now, zone) - offset(until, zone)
    assert until - now <= timedelta(hours=24) + max(fell_back, timedelta(0))
    assert quiet_until(window, until, zone) is None
    # Nothing between now and the end is outside quiet hours (checked a minute before it).
    assert quiet_until(window, max(now, until - timedelta(minutes=1)), zone) == until
