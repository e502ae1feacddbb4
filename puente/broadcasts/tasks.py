"""The worker's broadcast tasks: start (resolve the audience), send (a chain of batches), tick.

Tasks take a broadcast's id only. The database says what is left to do, so a task that
is lost (its worker was SIGKILLed) or run twice does no harm: the tick, every minute and
whenever a worker starts, notices what waits and queues it again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from puente.broadcasts import reminders, sending, service
from puente.broadcasts.models import Broadcast, Delivery, State, Status
from puente.db import as_utc
from puente.jobs.queue import task

if TYPE_CHECKING:
    from puente.services import Services

logger = logging.getLogger(__name__)

#: Send chains started per broadcast: each claims its own batches, so while one writes its
#: results another sends (more workers and threads share them out).
CHAINS = 2
#: A broadcast whose chains have claimed nothing for this long gets a new one from the tick.
CHAIN_IDLE = timedelta(seconds=30)


@task("broadcast_start")
def broadcast_start(services: Services, broadcast_id: int) -> None:
    now = services.clock()
    if not service.begin(services.database, broadcast_id, now):
        return
    written = service.resolve(services, broadcast_id, now)
    logger.info("broadcast %d: %d deliveries queued", broadcast_id, written)
    for _ in range(CHAINS):
        services.jobs.enqueue("broadcast_send", broadcast_id)


@task("broadcast_send")
def broadcast_send(services: Services, broadcast_id: int) -> None:
    batch = sending.send_batch(services, broadcast_id)
    if batch.more:
        services.jobs.enqueue("broadcast_send", broadcast_id)
        return
    # What this batch left for later is picked up when it is due, not at the next minute's tick:
    # an uncertain send once the grace has passed (the next batch asks Twilio), a retry after its backoff.
    waits = []
    if batch.uncertain:
        waits.append(sending.UNCERTAIN_GRACE.total_seconds() + 0.5)
    if batch.retry_at is not None:
        waits.append(max(0.0, (batch.retry_at - services.clock()).total_seconds()) + 0.1)
    if waits:
        services.jobs.enqueue("broadcast_send", broadcast_id, delay=min(waits))


@task("broadcasts_tick")
def broadcasts_tick(services: Services) -> None:
    tick(services)


def tick(services: Services) -> dict[str, int]:
    """Everything time moves forward: reminders due, broadcasts whose time came, deferred or
    stranded deliveries, claims of dead workers. Returns what it queued, by task."""
    now = services.clock()
    queued = {"broadcast_start": 0, "broadcast_send": 0}
    with services.database.session(timeout=60) as session:
        made = reminders.run(session, now)
    if made.created or made.notices:
        logger.info("reminders: %d created, %d notices", len(made.created), len(made.notices))
    sending.reconcile(services, now)
    with services.database.session(timeout=30) as session:
        due = list(
            session.scalars(
                select(Broadcast.id).where(
                    Broadcast.status.in_((Status.SCHEDULED.value, Status.RESOLVING.value)),
                    Broadcast.scheduled_at <= now,
                )
            )
        )
        sending_now = list(
            session.execute(
                select(Broadcast.id, Broadcast.active_at).where(Broadcast.status == Status.SENDING.value)
            ).tuples()
        )
        active = [bid for bid, _ in sending_now]
        # A chain that claimed lately is still at work (or a dead worker's claims are being
        # reconciled): another would only claim ahead of it. One is started when none is busy.
        idle = {bid for bid, at in sending_now if at is None or as_utc(at) < now - CHAIN_IDLE}
        waiting = {bid: sending.ready_count(session, bid, now) for bid in active}
        in_flight = (
            set(
                session.scalars(
                    select(Delivery.broadcast_id)
                    .where(Delivery.broadcast_id.in_(active), Delivery.state == State.SENDING.value)
                    .distinct()
                )
            )
            if active
            else set()
        )
        leases = dict(
            session.execute(
                select(Delivery.broadcast_id, func.min(Delivery.lease_until))
                .where(Delivery.state == State.SENDING.value, Delivery.lease_until > now)
                .group_by(Delivery.broadcast_id)
            )
            .tuples()
            .all()
        )
        sending.forget_early_statuses(session, now)
        sending.sweep_cancelled(session)
    for bid in due:
        services.jobs.enqueue("broadcast_start", bid)
        queued["broadcast_start"] += 1
    for bid, lease in leases.items():
        if lease is None:
            continue
        # A claim whose lease ends soon (a worker that died, a lost answer): its broadcast is
        # looked at again then (a send batch reconciles first), not at the next minute's tick.
        wait = (as_utc(lease) - now).total_seconds()
        if 0 < wait < 120:
            services.jobs.enqueue("broadcast_send", bid, delay=wait + 0.5)
    for bid in active:
        if waiting[bid] and bid in idle:
            services.jobs.enqueue("broadcast_send", bid)
            queued["broadcast_send"] += 1
        elif bid not in in_flight:
            sending.finish_if_done(services, bid)
    return queued


def run_inline(services: Services) -> list[str]:
    """`puente reminders run`: create the reminders due at the services' clock and send them
    here, batch by batch (a worker running meanwhile shares the work; nobody gets one twice)."""
    import time

    now = services.clock()
    with services.database.session(timeout=60) as session:
        made = reminders.run(session, now)
    lines = [
        f"reminders: {len(made.created)} due, {len(made.notices)} notices of moved or cancelled hearings"
    ]
    for broadcast_id in [*made.created, *made.notices]:
        if service.begin(services.database, broadcast_id, now):
            service.resolve(services, broadcast_id, now)
        sent = 0
        while True:
            batch = sending.send_batch(services, broadcast_id)
            sent += batch.sent
            if batch.more:
                continue
            if batch.uncertain or _in_flight(services, broadcast_id):
                time.sleep(sending.UNCERTAIN_GRACE.total_seconds() + 0.2)
                continue
            break
        with services.database.session(timeout=30) as session:
            r = service.report(session, broadcast_id)
        lines.append(
            f"broadcast {broadcast_id} ({r.broadcast.kind} {r.broadcast.hearing_id} "
            f"{r.broadcast.reminder}): {r.broadcast.recipients} recipients, sent {sent}, "
            + ", ".join(f"{state} {n}" for state, n in r.states.items() if n)
        )
    return lines


def _in_flight(services: Services, broadcast_id: int) -> bool:
    with services.database.session(timeout=30) as session:
        return bool(
            session.scalar(
                select(Delivery.id)
                .where(Delivery.broadcast_id == broadcast_id, Delivery.state == State.SENDING.value)
                .limit(1)
            )
        )
