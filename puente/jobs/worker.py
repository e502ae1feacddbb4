"""`puente worker`: the queue's consumer, a few threads, and a heartbeat beside them.

Huey's consumer runs the tasks on worker threads and enqueues the periodic jobs and the
tasks scheduled for later. Puente adds:

- a heartbeat every `HEARTBEAT_INTERVAL` seconds, in the shared database, recorded only
  while the consumer's threads are alive and the queue's storage answers. It is not a
  queue task: Huey checks periodic tasks once a minute, and a task on a shared queue
  would wait behind a broadcast's thousands of sends and run on whichever worker is
  free, while the heartbeat says whether *this* process works;
- SIGINT shuts down as gracefully as SIGTERM (Huey makes one of them immediate): the
  tasks running finish (for up to `SHUTDOWN_TIMEOUT` seconds), nothing new starts, and
  the heartbeat row is removed. A second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from huey.consumer import Consumer

from puente.config import Settings
from puente.db import Database
from puente.jobs import DEFAULT_THREADS, heartbeat
from puente.jobs.queue import JobQueue, QueueKind
from puente.jobs.tasks import PERIODIC_JOBS
from puente.logs import configure_logging

logger = logging.getLogger(__name__)

#: Seconds the running tasks get to finish after SIGTERM or SIGINT: within `make run`'s
#: 10 s grace and Docker's default 10 s stop timeout.
SHUTDOWN_TIMEOUT = 8.0
#: The longest an idle worker thread waits between looks at the SQLite queue (Redis
#: hands a new task over at once).
MAX_POLL_DELAY = 1.0


class Heartbeat:
    """Records every `interval` seconds that this worker is alive, while `healthy()` says so.

    `healthy` raises, or returns False, when the worker could not do its work: a consumer
    thread is down, the queue's storage does not answer. Then no beat is recorded, and the
    log says why once (not every few seconds).
    """

    def __init__(
        self, database: Database, healthy: Callable[[], bool], interval: float = heartbeat.HEARTBEAT_INTERVAL
    ) -> None:
        self.database = database
        self.healthy = healthy
        self.interval = interval
        self.hostname, self.pid = heartbeat.worker_identity()
        self.started_at = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="Heartbeat", daemon=True)
        self._failing: str | None = None

    def start(self) -> None:
        self._thread.start()

    def halt(self) -> None:
        """Stop beating (the worker is stopping: its threads end one by one)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def stop(self) -> None:
        """Stop beating and remove this worker's row: it no longer counts as alive."""
        self.halt()
        try:
            heartbeat.forget(self.database, self.hostname, self.pid)
        except Exception as error:  # noqa: BLE001 - stopping anyway; the row goes stale
            logger.warning("heartbeat row not removed (%s): it goes stale in %.0f s",
                           type(error).__name__, heartbeat.STALE_AFTER)

    def _run(self) -> None:
        while True:
            self.beat_once()
            if self._stop.wait(self.interval):
                return

    def beat_once(self) -> bool:
        """One heartbeat, if the worker is healthy; whether it was recorded."""
        try:
            if not self.healthy():
                return self._failed("a consumer thread is down")
        except Exception as error:  # noqa: BLE001 - whatever the queue raises, the beat is skipped
            return self._failed(f"the queue did not answer ({type(error).__name__})")
        try:
            heartbeat.beat(self.database, self.hostname, self.pid, self.started_at)
        except Exception as error:  # noqa: BLE001 - the heartbeat thread must outlive any failure
            return self._failed(
                f"the database did not take it ({type(error).__name__}; is it migrated? `puente db upgrade`)"
            )
        if self._failing is not None:
            logger.info("heartbeat recorded again")
            self._failing = None
        return True

    def _failed(self, why: str) -> bool:
        if why != self._failing:
            logger.warning("heartbeat not recorded: %s", why)
            self._failing = why
        return False


class WorkerConsumer(Consumer):  # type: ignore[misc]  # huey ships no type information
    """Huey's consumer with Puente's heartbeat, graceful on SIGTERM and SIGINT alike."""

    def __init__(self, queue: JobQueue, database: Database, **options: object) -> None:
        super().__init__(queue.huey, graceful_signal="TERM", **options)
        # (restart, graceful) per signal: Huey would make SIGINT immediate.
        self._signal_actions[signal.SIGINT] = (False, True)
        self.queue = queue
        self.heartbeat = Heartbeat(database, self.healthy)

    def threads_alive(self) -> bool:
        alive: Callable[[object], bool] = self.environment.is_alive
        return alive(self.scheduler) and all(alive(thread) for _, thread in self.worker_threads)

    def healthy(self) -> bool:
        """The consumer's threads run and the queue's storage answers (raises if it does not)."""
        self.queue.pending()
        return self.threads_alive()

    def start(self) -> None:
        super().start()
        self.heartbeat.start()

    def stop(self, graceful: bool = False) -> None:
        # Threads end one by one from here: a beat now would only say one is down.
        self.heartbeat.halt()
        super().stop(graceful=graceful)

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.heartbeat.stop()


def run_worker(settings: Settings, threads: int = DEFAULT_THREADS, periodic: bool = True) -> None:
    """`puente worker`: consume the queue until SIGTERM or SIGINT."""
    from puente.services import Services

    configure_logging(settings.log_level)
    services = Services(settings)
    database = services.database  # created here, before any thread could race to create it
    queue = JobQueue(settings, context=lambda: services)
    services.jobs = queue  # tasks queue their follow-ups on the worker's own queue
    if periodic:
        queue.add_periodic(PERIODIC_JOBS)
    # An idle thread polls the SQLite file; Redis hands a task over as it comes.
    polling = {"max_delay": MAX_POLL_DELAY} if queue.target.kind is QueueKind.SQLITE else {}
    consumer = WorkerConsumer(
        queue, database, workers=threads, periodic=periodic, shutdown_timeout=SHUTDOWN_TIMEOUT, **polling
    )
    if periodic:
        # What a worker that died left behind is picked up now, not at the next minute.
        queue.enqueue("broadcasts_tick")
    logger.info("worker: %s, %d threads, periodic jobs %s", queue.target, threads,
                ", ".join(job.name for job in PERIODIC_JOBS) if periodic else "off")
    try:
        consumer.run()
    finally:
        if "broadcast_context" in services.__dict__:
            services.broadcast_context.sender.close()
        queue.close()
        database.dispose()
