"""The worker's tasks, and its periodic jobs.

A task is `func(services, *ids)`, registered with `@task(name)`; anything enqueues it
with `JobQueue.enqueue(name, *ids)`. Capabilities add their own modules of tasks to
`puente.jobs.queue.TASK_MODULES`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from huey import crontab

from puente.alerts import retention
from puente.jobs import heartbeat
from puente.jobs.queue import PeriodicJob, task
from puente.models import utcnow

if TYPE_CHECKING:
    from puente.services import Services

logger = logging.getLogger(__name__)


@task("ping")
def ping(_services: Services, token: int) -> tuple[int, str]:
    """`token` back, with the worker that ran it: proves a worker consumes this queue."""
    hostname, pid = heartbeat.worker_identity()
    return token, f"{hostname}:{pid}"


def prune_worker_heartbeats(services: Services) -> None:
    """Forget workers silent for an hour (a SIGKILLed worker leaves its row behind)."""
    removed = heartbeat.prune(services.database)
    if removed:
        logger.info("removed the heartbeats of %d workers gone for %s", removed, heartbeat.PRUNE_AFTER)


def broadcasts_tick(services: Services) -> None:
    """Reminders due, scheduled broadcasts, deliveries deferred or stranded (see broadcasts.tasks)."""
    from puente.broadcasts.tasks import tick

    tick(services)


def purge_old_conversations(services: Services) -> None:
    """The retention purge (`puente purge`): conversation data older than RETENTION_DAYS."""
    from puente.broadcasts import retention as broadcast_retention

    report = retention.purge(services.database, utcnow(), services.settings.retention_days)
    sent = broadcast_retention.purge(services.database, utcnow(), services.settings.retention_days)
    if any(sent.counts.values()):
        done = ", ".join(f"{k} {n}" for k, n in sent.counts.items() if n)
        logger.info("retention purge of broadcasts: %s", done)
    logger.info("retention purge: %s", ", ".join(f"{table} {n}" for table, n in report.deleted.items() if n)
                or "nothing to delete")


#: What the worker does on a schedule (`huey.crontab`, checked once a minute, in UTC). Each
#: `puente worker` run without --no-periodic enqueues these, and any worker runs them.
PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("broadcasts_tick", crontab(minute="*"), broadcasts_tick),
    PeriodicJob("prune_worker_heartbeats", crontab(minute="*/10"), prune_worker_heartbeats),
    # Hourly: what crosses RETENTION_DAYS goes within the hour (batched, so cheap when little does).
    PeriodicJob("purge_old_conversations", crontab(minute="17"), purge_old_conversations),
)
