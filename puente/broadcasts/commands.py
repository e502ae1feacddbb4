"""`puente broadcast send|status|cancel` and `puente reminders run`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from puente.broadcasts import service
from puente.broadcasts.service import BroadcastError, Request
from puente.config import ConfigError, load_settings
from puente.db import DATABASE_ERRORS
from puente.services import Services


def _services() -> Services:
    """The core's services for this command; their connections close when it ends."""
    try:
        services = Services(load_settings())
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    click.get_current_context().call_on_close(services.close)
    return services


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-12-15T09:00-08:00", param_hint=option
        ) from None
    if value.tzinfo is None:
        raise click.BadParameter("give a time zone offset, e.g. 2026-12-15T09:00-08:00", param_hint=option)
    return value.astimezone(UTC)


def _translations(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        code, sep, text = value.partition("=")
        if not sep:
            raise click.BadParameter(
                f"{value!r}: write LANG=TEXT, e.g. es='Audiencia el martes'", param_hint="--translation"
            )
        out[code.strip()] = text
    return out


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@click.group()
def broadcast() -> None:
    """Messages to subscribers: by topic and place, in each person's language."""


@broadcast.command("send")
@click.option("--topic", required=True, help="hearings, mobilization, policy_updates or clinics.")
@click.option("--jurisdiction", default=None, help="A place's id: it, the places within it and around it.")
@click.option("--language", default=None, help="Only people reading this language (zh: both scripts).")
@click.option("--message", required=True, help="The English text (what anyone without their own gets).")
@click.option(
    "--translation",
    "translations",
    multiple=True,
    metavar="LANG=TEXT",
    help="The text in another language (repeatable; zh serves both Chinese scripts).",
)
@click.option("--at", "at_text", default=None, metavar="ISO", help="Send at this time (with its offset).")
@click.option("--dry-run", is_flag=True, help="Queue nothing: print recipients, segments and time.")
@click.option("--urgent", is_flag=True, help="Send through quiet hours (recorded).")
@click.option(
    "--rsvp",
    "rsvp_hours",
    type=float,
    is_flag=False,
    flag_value=service.DEFAULT_RSVP_HOURS,
    default=None,
    metavar="HOURS",
    help="Ask YES/NO; answers count for HOURS (default 48).",
)
@click.option(
    "--test-to",
    "test_to",
    default=None,
    metavar="PHONE",
    help="Send it to this one number only (whatsapp:+1… for WhatsApp).",
)
def send_command(
    topic: str,
    jurisdiction: str | None,
    language: str | None,
    message: str,
    translations: tuple[str, ...],
    at_text: str | None,
    dry_run: bool,
    urgent: bool,
    rsvp_hours: float | None,
    test_to: str | None,
) -> None:
    """Queue a broadcast; prints its id, then how many it reaches."""
    services = _services()
    request = Request(
        topic=topic,
        message=message,
        translations=_translations(translations),
        jurisdiction_id=jurisdiction,
        language=language,
        at=_moment(at_text, "--at"),
        urgent=urgent,
        rsvp_hours=rsvp_hours,
    )
    now = services.clock()
    try:
        if test_to is not None:
            _test_send(services, request, test_to, now)
        elif dry_run:
            _dry_run(services, request, now)
        else:
            with services.database.session(timeout=60) as session:
                created, count = service.create(session, request, now)
                broadcast_id = created.id
            click.echo(f"Broadcast {broadcast_id}")
            click.echo(f"{count} recipients")
            delay = max(0.0, (created.scheduled_at - now).total_seconds())
            try:
                services.jobs.enqueue("broadcast_start", broadcast_id, delay=delay or None)
            except Exception as error:  # noqa: BLE001 - it is saved: the worker's tick starts it anyway
                click.echo(
                    f"puente: the queue did not take it ({type(error).__name__}); it is saved, and "
                    "a worker starts it within a minute of the queue answering. Do not send it again.",
                    err=True,
                )
            when = "now" if not delay else created.scheduled_at.isoformat()
            click.echo(
                f"Queued: the worker sends it {when}. `puente broadcast status {broadcast_id}` "
                "shows progress."
            )
            _warn_without_worker(services)
    except BroadcastError as error:
        raise click.ClickException(str(error)) from None
    except DATABASE_ERRORS as error:
        raise click.ClickException(f"the database is unavailable ({type(error).__name__})") from None


def _warn_without_worker(services: Services) -> None:
    """Nothing goes out without a worker: say so now rather than let a coordinator wait."""
    from puente.jobs import heartbeat

    try:
        problem = heartbeat.problem(services.database, 5.0)
    except DATABASE_ERRORS:
        return
    if problem is not None:
        click.echo(
            f"puente: no worker is running ({problem}): start one with `puente worker` "
            "(make run starts one); the broadcast waits for it.",
            err=True,
        )


def _dry_run(services: Services, request: Request, now: datetime) -> None:
    settings = services.settings
    with services.database.session(timeout=60) as session:
        plan = service.plan(
            session,
            services.languages,
            services.broadcast_context,
            request,
            now,
            settings.twilio_price_per_segment,
        )
    click.echo("Dry run: nothing queued.")
    click.echo(f"{plan.recipients} recipients")
    if plan.languages:
        click.echo(f"  {'language':<9} {'sms':>7} {'whatsapp':>9} {'segments':>9}  encoding")
    for lp in plan.languages:
        note = "  (no text of its own: gets the en text)" if lp.en_fallback else ""
        click.echo(
            f"  {lp.language:<9} {lp.sms:>7} {lp.whatsapp:>9} {lp.segments_each:>9}  {lp.encoding}{note}"
        )
    rate = f"at {plan.rate:g} segments/s" if plan.rate > 0 else "with no rate limit"
    click.echo(
        f"Segments: {plan.segments}; {rate} about {_minutes(plan.seconds)}; cost about ${plan.cost:,.2f}"
    )
    if plan.no_template:
        click.echo(
            f"WhatsApp, outside the 24-hour window and no template: {plan.no_template} "
            "would be skipped (no_template)"
        )


def _test_send(services: Services, request: Request, phone: str, now: datetime) -> None:
    from puente.broadcasts.testsend import send_test

    with services.database.session(timeout=30) as session:
        service.check(session, request, now)
    broadcast_id, outcome = send_test(services, request, phone, now)
    click.echo(f"Broadcast {broadcast_id}")
    click.echo("1 recipients (test)")
    click.echo(f"Test message: {outcome}")


@broadcast.command("status")
@click.argument("broadcast_id", type=int)
def status_command(broadcast_id: int) -> None:
    """Counts per state (and reason), RSVPs, and the deliveries whose fate is unknown."""
    services = _services()
    try:
        with services.database.session(timeout=30) as session:
            r = service.report(session, broadcast_id)
            b = r.broadcast
            click.echo(
                f"Broadcast {b.id}: {b.kind}, {', '.join(b.topics)}, {b.status}; {b.recipients} recipients"
            )
            for state, n in r.states.items():
                detail = sorted(((reason, k) for (s, reason), k in r.reasons.items() if s == state))
                extra = f" ({', '.join(f'{reason} {k}' for reason, k in detail)})" if detail else ""
                click.echo(f"{state} {n}{extra}")
            if r.errors:
                click.echo(
                    "Twilio errors: " + ", ".join(f"{code} ×{n}" for code, n in sorted(r.errors.items()))
                )
            if b.rsvp_until is not None:
                click.echo(
                    f"RSVP yes {r.rsvps['yes']}, no {r.rsvps['no']} (until {b.rsvp_until.isoformat()})"
                )
            if r.notes:
                click.echo("notes: " + ", ".join(f"{k} {n}" for k, n in sorted(r.notes.items())))
            if r.unknown_ids:
                click.echo(
                    "unknown (may or may not have gone; never resent; check Twilio's log): deliveries "
                    + ", ".join(str(i) for i in r.unknown_ids)
                )
    except BroadcastError as error:
        raise click.ClickException(str(error)) from None
    except DATABASE_ERRORS as error:
        raise click.ClickException(f"the database is unavailable ({type(error).__name__})") from None


@broadcast.command("cancel")
@click.argument("broadcast_id", type=int)
def cancel_command(broadcast_id: int) -> None:
    """Stop a scheduled or sending broadcast; what was sent stays sent."""
    services = _services()
    try:
        with services.database.session(timeout=30) as session:
            stopped = service.cancel(session, broadcast_id, services.clock())
    except BroadcastError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Broadcast {broadcast_id} cancelled: {stopped} deliveries will not be sent.")


@click.group()
def reminders() -> None:
    """Hearing reminders."""


@reminders.command("run")
@click.option(
    "--now", "now_text", default=None, metavar="ISO", help="The time to run as (default: the clock)."
)
def reminders_run(now_text: str | None) -> None:
    """Create and send the hearing reminders due now; running it twice sends nothing twice."""
    import time
    from datetime import timedelta

    from puente.broadcasts.tasks import run_inline

    moment = _moment(now_text, "--now")
    services = _services()
    if moment is not None:
        started = time.monotonic()
        services.clock = lambda: moment + timedelta(seconds=time.monotonic() - started)  # time still passes
    try:
        report = run_inline(services)
    except DATABASE_ERRORS as error:
        click.echo(f"puente: the database is unavailable ({type(error).__name__})", err=True)
        sys.exit(1)
    for line in report:
        click.echo(line)


@reminders.command("list")
def reminders_list() -> None:
    """Upcoming hearings and when each reminder goes, in the hearing's own time zone."""
    from sqlalchemy import select

    from puente.broadcasts.models import Broadcast, Kind
    from puente.broadcasts.reminders import DEFAULT_OFFSETS, due_offset, duration, reminder_key
    from puente.broadcasts.zones import place_zone
    from puente.directory.models import Hearing, Jurisdiction

    services = _services()
    now = services.clock()
    try:
        with services.database.session(timeout=30) as session:
            hearings = list(
                session.scalars(select(Hearing).where(Hearing.starts_at > now).order_by(Hearing.starts_at))
            )
            made = set(session.scalars(select(Broadcast.key).where(Broadcast.kind == Kind.REMINDER.value)))
            for hearing in hearings:
                place = session.get(Jurisdiction, hearing.jurisdiction_id)
                zone = place_zone(place.timezone if place is not None else "")
                starts = hearing.starts_at.astimezone(zone)
                click.echo(
                    f"{hearing.id}: {hearing.body}, {starts:%Y-%m-%d %H:%M %Z} ({hearing.status}; "
                    f"topics {', '.join(hearing.topics or ['hearings'])})"
                )
                if hearing.status == "cancelled":
                    continue
                for offset in hearing.reminders or DEFAULT_OFFSETS:
                    at = (hearing.starts_at - duration(offset)).astimezone(zone)
                    key = reminder_key(hearing.id, hearing.starts_at, offset)
                    if key in made:
                        state = "created"
                    elif at > now:
                        state = "waiting"
                    else:  # only the latest due one goes: an earlier one is never sent late
                        state = (
                            "due" if offset == due_offset(hearing, now) else "skipped (a later one is due)"
                        )
                    click.echo(f"  {offset:>5}  {at:%Y-%m-%d %H:%M %Z}  {state}")
    except DATABASE_ERRORS as error:
        raise click.ClickException(f"the database is unavailable ({type(error).__name__})") from None
    if not hearings:
        click.echo("No upcoming hearings in the directory.")
