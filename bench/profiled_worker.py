"""`puente worker` with cProfile on every thread, measuring each thread's CPU time (bench/fanout --profile).

    python bench/profiled_worker.py OUT.prof [worker options]

Every thread the worker starts (Huey's consumer threads, the send pool, the heartbeat) gets a
`cProfile.Profile(time.thread_time)` of its own as it starts, so a function's time is the
CPU its thread spent in it, not the time it waited on a socket or a lock. At exit (SIGTERM:
the worker stops gracefully) the profiles are merged and written to OUT.prof (pstats format).
cProfile slows Python code down (every call is timed): read the shares, not the totals.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_profile() -> None:
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(profile)
    profile.enable()


def _hook(frame: FrameType, event: str, arg: Any) -> None:
    """The first profile event of a new thread: hand the thread over to a cProfile of its own."""
    sys.setprofile(None)
    _start_profile()


class _Snapshot:
    """A thread's profile as pstats reads it, without `disable()`: from another thread, disabling
    would close the frames still open on the profiled thread (a pool thread waiting for work)
    with *this* thread's CPU clock, and corrupt every total above them. Calls still running are
    left out; everything that returned is counted."""

    def __init__(self, profile: cProfile.Profile) -> None:
        self.profile = profile
        self.stats: Any = {}

    def create_stats(self) -> None:
        self.profile.snapshot_stats()
        self.stats = self.profile.stats


def _dump(path: Path) -> None:
    with _lock:
        profiles = list(_profiles)
    stats: pstats.Stats | None = None
    for profile in profiles:
        try:
            snapshot = _Snapshot(profile)
            if stats is None:
                stats = pstats.Stats(snapshot)  # type: ignore[arg-type]  # pstats takes any create_stats()
            else:
                stats.add(snapshot)  # type: ignore[arg-type]
        except TypeError:
            continue  # a profile that recorded nothing
    if stats is not None:
        stats.dump_stats(str(path))


def main() -> int:
    out = Path(sys.argv[1])
    threading.setprofile(_hook)
    _start_profile()
    from puente.cli import main as puente

    sys.argv = ["puente", "worker", *sys.argv[2:]]
    try:
        puente()
    finally:
        _dump(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
