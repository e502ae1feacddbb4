"""End to end: broadcasts and hearing reminders through the real CLI and the real worker, sent
through a fake Twilio (its own process, on loopback) whose status callbacks come back to the
webhook, on both backends (SQLite database and queue; PostgreSQL and Redis).

Coordinators' commands run as subprocesses (`puente subscribers import`, `directory import`,
`broadcast send|status|cancel`, `reminders run`) with the stack's settings; the stack's own
`puente worker` sends. People subscribe by the import, and those on WhatsApp text the line
once (WhatsApp allows free text within 24 hours of their last message). What each person got
is read from the fake; what Puente recorded, from the database and `broadcast status`.

tests/integration/test_broadcasts.py covers the same code in process with a clock the test
moves (quiet hours ending, backoffs, a hearing's successive offsets); here time is real.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from babel.dates import format_date, format_time
from sqlalchemy import func, select

from puente.broadcasts import service
from puente.broadcasts.models import Broadcast, Delivery
from puente.broadcasts.sender import CLOCK_SKEW
from puente.broadcasts.sending import CONCURRENCY
from puente.config import PROJECT_ROOT
from puente.db import Database, as_utc
from puente.i18n import registry
from puente.runner import inherited_env, settings_env
from tests.e2e.conftest import TWILIO_FROM, TWILIO_WHATSAPP_FROM, TextLine, redis_queue_keys
from tests.e2e.test_alerts_e2e import ASK_DELETE, ERASED, HELP, STOPPED
from tests.e2e.texts import tr
from tests.fake_twilio import FailurePlan, FakeTwilioControl

pytestmark = pytest.mark.e2e

PUENTE = str(Path(sys.executable).parent / "puente")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # every sample place's time zone
OPTOUT = "Reply %(stop)s to end."
STOP_WORD = {"en": "STOP", "es": "PARAR", "zh_Hans": "退订", "zh_Hant": "退訂", "vi": "DỪNG"}
HELP_WORD = {"es": "AYUDA", "zh_Hant": "幫助", "vi": "GIÚP"}
REMINDER = "Reminder: %(title)s (%(body)s), %(when)s, at %(where)s."
CALENDAR = "Add it to your calendar: %(link)s"


@dataclass(frozen=True)
class Person:
    phone: str
    language: str
    channel: str
    place: str
    topics: str  # as the import file writes them: `;`-separated

    @property
    def address(self) -> str:
        """The fake Twilio's To: the number, with WhatsApp's prefix on WhatsApp."""
        return f"whatsapp:{self.phone}" if self.channel == "whatsapp" else self.phone


# Fictional numbers (555-01xx): suffixes no other e2e module (nor the directories) uses, one area
# code per group. 0197 and 0198 are the stack's senders (tests/e2e/conftest.py).
SUFFIXES = ("0157", "0158", "0159", "0164", "0165", "0166", "0167", "0168", "0169", "0170", "0173",
            "0174", "0175", "0176", "0184", "0185", "0186", "0187", "0189", "0193", "0195", "0196")

# Each in their language, on SMS and on WhatsApp: policy updates for San José.
LANGUAGES = tuple(
    Person(f"+1279555{SUFFIXES[i]}", language, channel, "ca-san-jose", "policy_updates")
    for i, (language, channel) in enumerate(
        (lang, ch) for lang in ("es", "zh_Hant", "vi") for ch in ("sms", "whatsapp"))
)
# Clinics in Santa Ana: one stays, one texts STOP (PARAR), one erases themselves (DELETE twice).
STAYS, STOPS, ERASES = (
    Person(f"+1341555{SUFFIXES[0]}", "en", "sms", "ca-santa-ana", "clinics"),
    Person(f"+1341555{SUFFIXES[1]}", "es", "sms", "ca-santa-ana", "clinics"),
    Person(f"+1341555{SUFFIXES[2]}", "en", "sms", "ca-santa-ana", "clinics"),
)
# Hearings in Oakland (and its school district, within it); a third follows only clinics there.
HEARINGS = (
    Person(f"+1369555{SUFFIXES[0]}", "es", "sms", "ca-oakland", "hearings"),
    Person(f"+1369555{SUFFIXES[1]}", "zh_Hans", "sms", "ca-oakland-usd", "hearings"),
)
CLINICS_ONLY = Person(f"+1369555{SUFFIXES[2]}", "en", "sms", "ca-oakland", "clinics")
# Mobilization in Modesto, while quiet hours are on.
QUIET = (
    Person(f"+1424555{SUFFIXES[0]}", "en", "sms", "ca-modesto", "mobilization"),
    Person(f"+1424555{SUFFIXES[1]}", "es", "sms", "ca-modesto", "mobilization"),
)
# Mobilization in Los Angeles (the city and LAUSD): a crowd, for the kill and the failing Twilio.
CROWD = tuple(
    Person(f"+1{area}555{suffix}", "es" if i % 2 else "en", "sms",
           "ca-lausd" if i % 3 == 0 else "ca-los-angeles", "mobilization")
    for i, (area, suffix) in enumerate((area, suffix) for area in (442, 530) for suffix in SUFFIXES)
)
PEOPLE = (*LANGUAGES, STAYS, STOPS, ERASES, *HEARINGS, CLINICS_ONLY, *QUIET, *CROWD)
# A coordinator's own phone, for `--test-to` (subscribed to nothing).
COORDINATOR = Person(f"+1424555{SUFFIXES[2]}", "es", "sms", "ca-modesto", "")
#: Every number here: the final privacy scan (test_text_line) looks for them all.
EVERYONE = (*(p.phone for p in PEOPLE), COORDINATOR.phone)

# The coordinators' texts, each broadcast its own (the final scan looks for them in every log).
NEWS = {
    "en": "The city council votes on the welcoming plan Tuesday 6 pm: come give public comment",
    "es": "El concejo vota el plan de bienvenida el martes a las 6 pm: ven a comentar",
    "zh": "市议会周二就欢迎决议举行听证，请来发表意见",
    "vi": "Hội đồng thành phố bỏ phiếu kế hoạch chào đón thứ Ba 6 giờ chiều: hãy đến góp ý",
}
NEWS_ZH_HANT = "市議會週二就歡迎決議舉行聽證，請來發表意見"  # `zh`, converted for Traditional readers
CLINIC_NEWS = "The Saturday legal clinic at Valley High moves to room 12"
KILLED = {"en": "Rally at City Hall Friday 10 am: bring a friend",
          "es": "Marcha al ayuntamiento el viernes a las 10"}
FLAKY = {"en": "Know-your-rights night Thursday 7 pm at the library",
         "es": "Noche de derechos el jueves a las 7"}
DEFERRED = "Phone bank tonight: call your supervisor about the detention contract"
URGENT = {"en": "ICE reported at the courthouse now: observers needed", "es": "ICE en el juzgado ahora"}
LATER = "Town hall on the county budget next month: save the date"
TRIAL = {"en": "Draft: the hearing moved to Thursday", "es": "Borrador: la audiencia pasó al jueves"}
BODIES = (NEWS["en"], NEWS["vi"], CLINIC_NEWS, KILLED["en"], FLAKY["en"], DEFERRED, URGENT["en"], LATER,
          TRIAL["en"])


# --- running Puente's commands ----------------------------------------------------------------


def puente(line: TextLine, *args: str, timeout: float = 120, **settings: str) -> str:
    """`puente ARGS` as a coordinator runs it on the stack's machine: the stack's settings (with
    `settings` changed), and no .env (PUENTE_ENV_FILE names no file). Its stdout."""
    env = {
        **inherited_env(os.environ),
        **settings_env(line.settings.with_overrides(**settings)),
        "PUENTE_ENV_FILE": str(line.workdir / "no.env"),
        "PUENTE_ROOT": str(PROJECT_ROOT),
        # This checkout's code, as the stack runs it (see the text_line fixture).
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    done = subprocess.run([PUENTE, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"puente {args[0]} {args[1] if len(args) > 1 else ''}: {done.stderr[-3000:]}"
    return done.stdout


def send(line: TextLine, *args: str, recipients: int) -> int:
    """`puente broadcast send ARGS`: the new broadcast's id, once it said how many it reaches."""
    out = puente(line, "broadcast", "send", *args)
    match = re.match(r"Broadcast (\d+)\n(\d+) recipients\n", out)
    assert match, out
    assert int(match.group(2)) == recipients, out
    return int(match.group(1))


@dataclass
class Status:
    """`puente broadcast status` as printed."""

    kind: str
    status: str
    recipients: int
    states: dict[str, int]  # the states with deliveries
    reasons: dict[str, dict[str, int]]
    notes: dict[str, int]


def status(line: TextLine, broadcast_id: int) -> Status:
    out = puente(line, "broadcast", "status", str(broadcast_id))
    lines = out.splitlines()
    head = re.fullmatch(rf"Broadcast {broadcast_id}: (\w+), [\w, ]+, (\w+); (\d+) recipients", lines[0])
    assert head, out
    states: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    notes: dict[str, int] = {}
    for text in lines[1:]:
        if text.startswith("notes: "):
            notes = {k: int(n) for k, n in (item.split(" ") for item in text[len("notes: "):].split(", "))}
            continue
        found = re.fullmatch(r"(\w+) (\d+)(?: \((.*)\))?", text)
        if found and int(found.group(2)):
            states[found.group(1)] = int(found.group(2))
            if found.group(3):
                reasons[found.group(1)] = {
                    k: int(n) for k, n in (item.split(" ") for item in found.group(3).split(", "))}
    return Status(head.group(1), head.group(2), int(head.group(3)), states, reasons, notes)


# --- watching what happens -------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(poll)


@pytest.fixture(scope="module")
def database(text_line: TextLine) -> Iterator[Database]:
    db = Database(text_line.settings.database_url)
    yield db
    db.dispose()


def states(database: Database, broadcast_id: int) -> dict[str, int]:
    with database.session() as session:
        return {k: v for k, v in service.report(session, broadcast_id).states.items() if v}


def settled(database: Database, broadcast_id: int) -> bool:
    """The worker is done with it: nothing queued or in flight, the broadcast `done`."""
    with database.session() as session:
        report = service.report(session, broadcast_id)
        waiting = report.states["queued"] + report.states["sending"]
        return report.broadcast.status == "done" and not waiting


def wait_settled(database: Database, broadcast_id: int, timeout: float = 60) -> dict[str, int]:
    wait_for(lambda: settled(database, broadcast_id), timeout, f"broadcast {broadcast_id} sent")
    return states(database, broadcast_id)


def reasons(database: Database, broadcast_id: int) -> dict[str, int]:
    """Every delivery's reason, counted, whatever its state."""
    with database.session() as session:
        rows = session.execute(
            select(Delivery.reason, func.count()).where(Delivery.broadcast_id == broadcast_id)
            .group_by(Delivery.reason)).tuples().all()
    return {str(reason): int(n) for reason, n in rows if reason}


def received(twilio: FakeTwilioControl, people: tuple[Person, ...]) -> list[list[str]]:
    """The bodies each person was sent (the fake keeps what it was asked to create), in order."""
    return [[m["body"] for m in twilio.messages(to=p.address)] for p in people]


def optout(language: str) -> str:
    return tr(language, OPTOUT) % {"stop": STOP_WORD[language]}


@pytest.fixture
def twilio(text_line: TextLine) -> Iterator[FakeTwilioControl]:
    """The stack's fake Twilio, with nothing recorded yet; back to answering everything after."""
    control = text_line.twilio.control
    control.reset()
    yield control
    control.set_plan(FailurePlan())
    control.configure(hold_deliveries=False)


# --- the subscribers -------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def subscribers(text_line: TextLine, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Everyone here, imported as a coalition's list with their consent; those on WhatsApp then
    text HELP in their language (the 24-hour window opens; HELP changes nothing else)."""
    sheet = tmp_path_factory.mktemp("subscribers") / "people.csv"
    consent_at = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    with sheet.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["phone", "language", "jurisdiction", "topics", "channel", "consent_at", "consent_source"])
        for p in PEOPLE:
            writer.writerow(
                [p.phone, p.language, p.place, p.topics, p.channel, consent_at, "e2e sign-up sheet"])
    try:
        summary = puente(text_line, "subscribers", "import", str(sheet))
    finally:
        sheet.unlink()
    assert f"imported: {len(PEOPLE)} ({len(PEOPLE)} new contacts)" in summary, summary
    assert "refused: 0" in summary, summary
    for p in LANGUAGES:
        if p.channel == "whatsapp":
            delivery = text_line.text(HELP_WORD[p.language], p.phone, whatsapp=True)
            assert delivery.replies == [tr(p.language, HELP)]


# --- the tests -------------------------------------------------------------------------------


def test_each_gets_one_message_in_their_language_then_delivered(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database
) -> None:
    twilio.configure(hold_deliveries=True)  # no status callback yet: first see them `sent`
    broadcast = send(
        text_line, "--topic", "policy_updates", "--jurisdiction", "ca-santa-clara-county",
        "--message", NEWS["en"], *(f"--translation={code}={NEWS[code]}" for code in ("es", "zh", "vi")),
        recipients=len(LANGUAGES),
    )
    assert wait_settled(database, broadcast) == {"sent": 6}
    shown = status(text_line, broadcast)
    assert (shown.kind, shown.status, shown.recipients, shown.states) == ("broadcast", "done", 6, {"sent": 6})
    assert shown.notes == {}  # no English fallback: each language had its text

    text = {"es": NEWS["es"], "zh_Hant": NEWS_ZH_HANT, "vi": NEWS["vi"]}
    assert received(twilio, LANGUAGES) == [[f"{text[p.language]}\n{optout(p.language)}"] for p in LANGUAGES]
    assert optout("es") == "Responde PARAR para salir."
    senders = {m["to"]: m["from"] for m in twilio.messages()}
    assert [senders[p.address] for p in LANGUAGES] == [
        TWILIO_FROM if p.channel == "sms" else f"whatsapp:{TWILIO_WHATSAPP_FROM}" for p in LANGUAGES]
    assert twilio.callbacks() == []

    # Twilio delivers them: its signed status callbacks reach POST /twilio/status.
    twilio.configure(hold_deliveries=False)
    wait_for(lambda: states(database, broadcast) == {"delivered": 6}, 30, "delivered")
    assert status(text_line, broadcast).states == {"delivered": 6}
    callbacks = twilio.callbacks()
    answered = sorted((c["status"], c["http_status"]) for c in callbacks)
    assert answered == [("delivered", 204)] * 6 + [("sent", 204)] * 6  # each signature checked
    assert {c["url"] for c in callbacks} == {f"{text_line.settings.public_base_url}/twilio/status"}


def test_nobody_who_stopped_or_erased_themselves_gets_it(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database
) -> None:
    assert text_line.text("PARAR", STOPS.phone).replies == [tr("es", STOPPED)]
    assert text_line.text("DELETE", ERASES.phone).replies == [ASK_DELETE % {"word": "DELETE"}]
    assert text_line.text("DELETE", ERASES.phone).replies == [ERASED]

    broadcast = send(text_line, "--topic", "clinics", "--jurisdiction", "ca-orange-county",
                     "--message", CLINIC_NEWS, recipients=1)
    assert wait_settled(database, broadcast) in ({"sent": 1}, {"delivered": 1})
    assert received(twilio, (STAYS, STOPS, ERASES)) == [[f"{CLINIC_NEWS}\n{optout('en')}"], [], []]
    assert len(twilio.messages()) == 1
    with database.session() as session:
        assert session.scalar(select(Broadcast.recipients).where(Broadcast.id == broadcast)) == 1


def write_hearings(path: Path, hearings: dict[str, datetime]) -> None:
    records = [
        {
            "id": hearing_id,
            "jurisdiction": "ca-oakland",
            "body": "Oakland City Council",
            "title": {"en": f"(test) {hearing_id} welcoming resolution",
                      "es": f"(prueba) resolución {hearing_id}", "zh": f"（测试）{hearing_id} 欢迎决议"},
            "starts_at": starts.isoformat(timespec="minutes"),
            "location": "1 Frank H. Ogawa Plaza (test)",
            "topics": ["hearings"],
        }
        for hearing_id, starts in hearings.items()
    ]
    path.write_text(yaml.safe_dump({"hearings": records}, allow_unicode=True), encoding="utf-8")


def reminder_lines(out: str, hearing_id: str) -> list[tuple[int, str, int, int]]:
    """`reminders run`'s lines for `hearing_id`: (broadcast, offset, recipients, sent)."""
    line = rf"^broadcast (\d+) \(reminder {hearing_id} (\w+)\): (\d+) recipients, sent (\d+)"
    found = re.findall(line, out, re.MULTILINE)
    return [(int(b), offset, int(r), int(s)) for b, offset, r, s in found]


def test_reminders_run_sends_a_hearings_reminder_once_and_none_for_a_hearing_under_way(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database, tmp_path: Path
) -> None:
    soon, started = "hearing-e2e-oakland-soon", "hearing-e2e-oakland-started"
    now = datetime.now(LOS_ANGELES).replace(second=0, microsecond=0)
    starts = now + timedelta(hours=23)  # its P1D reminder is due (P7D too: only the latest counts)
    write_hearings(tmp_path / "hearings.yaml", {soon: starts, started: now - timedelta(minutes=30)})
    imported = puente(text_line, "directory", "import", str(tmp_path / "hearings.yaml"))
    assert re.search(r"^hearings: 2 added, 0 changed, \d+ unchanged$", imported, re.MULTILINE), imported

    # The worker's tick (every minute) would create the reminder too: stopped, it is this command's
    # to create and send, which it does itself.
    text_line.stack.stop("worker")
    try:
        first = puente(text_line, "reminders", "run")
    finally:
        text_line.restart("worker")  # its tick on starting finds the reminder made: nothing twice
    [(reminder, offset, recipients, sent)] = reminder_lines(first, soon)
    assert (offset, recipients, sent) == ("P1D", 2, 2), first
    assert reminder_lines(first, started) == []

    link = f"{text_line.settings.public_base_url}/hearings/{soon}.ics"
    expected = []
    for p in HEARINGS:
        locale = registry().get(p.language).babel_locale
        title = f"(prueba) resolución {soon}" if p.language == "es" else f"（测试）{soon} 欢迎决议"
        before, after = tr(p.language, REMINDER).split("%(when)s")
        expected.append((
            before % {"title": title, "body": "Oakland City Council"},
            after % {"where": "1 Frank H. Ogawa Plaza (test)"} + "\n"
            + tr(p.language, CALENDAR) % {"link": f"{link}?lang={p.language}"} + "\n" + optout(p.language),
            format_date(starts, "full", locale=locale),
            format_time(starts, "short", tzinfo=LOS_ANGELES, locale=locale),
        ))
    got = received(twilio, HEARINGS)
    for [body], (start, end, day, hour) in zip(got, expected, strict=True):
        assert body.startswith(start) and body.endswith(end), body
        when = body[len(start):-len(end)]
        assert day in when and hour in when, body
    assert received(twilio, (CLINICS_ONLY,)) == [[]]
    # The link in it adds the hearing to a phone's calendar.
    ics = text_line.http.get(f"{link}?lang=es", timeout=10)
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text and f"UID:hearing-{soon}@puente" in ics.text

    wait_for(lambda: states(database, reminder) == {"delivered": 2}, 30, "reminders delivered")
    shown = status(text_line, reminder)
    assert (shown.kind, shown.status, shown.recipients) == ("reminder", "done", 2)
    assert shown.states == {"delivered": 2}

    second = puente(text_line, "reminders", "run")
    assert reminder_lines(second, soon) == [] and reminder_lines(second, started) == [], second
    assert [len(bodies) for bodies in received(twilio, HEARINGS)] == [1, 1]
    with database.session() as session:
        made = session.execute(select(Broadcast.hearing_id, func.count()).where(
            Broadcast.hearing_id.in_((soon, started))).group_by(Broadcast.hearing_id)).tuples().all()
    assert made == [(soon, 1)]


def expected_crowd_bodies(texts: dict[str, str]) -> list[list[str]]:
    return [[f"{texts[p.language]}\n{optout(p.language)}"] for p in CROWD]


def test_a_worker_killed_mid_broadcast_sends_the_rest_and_nothing_twice(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database
) -> None:
    broadcast = send(text_line, "--topic", "mobilization", "--jurisdiction", "ca-los-angeles-county",
                     "--message", KILLED["en"], f"--translation=es={KILLED['es']}", recipients=len(CROWD))
    # At the send rate the crowd takes a couple of seconds: kill the worker when some went.
    wait_for(lambda: twilio.stats()["created"] >= 5, 60, "the first messages sent", poll=0.02)
    text_line.kill("worker")
    went = twilio.stats()["created"]
    assert 0 < went < len(CROWD), "the kill came too late to be mid-broadcast"
    with database.session() as session:
        in_flight, claimed = session.execute(select(func.count(), func.max(Delivery.claimed_at)).where(
            Delivery.broadcast_id == broadcast, Delivery.state == "sending")).one()
    assert in_flight  # the dead worker's claim: what it sent is recorded nowhere but at Twilio

    # Restarted at once: the dead worker's claim is settled when its lease ends (a request in
    # flight at the kill has reached Twilio or failed by then), and the broadcast goes on.
    assert claimed is not None
    text_line.restart("worker")
    final = wait_settled(database, broadcast, timeout=90)
    unknown = final.pop("unknown", 0)
    assert sum(final.values()) + unknown == len(CROWD) and set(final) <= {"sent", "delivered"}, final
    assert unknown <= CONCURRENCY  # at most the requests in flight at the kill
    bodies = received(twilio, CROWD)
    with database.session() as session:
        state_of = dict(session.execute(select(Delivery.contact_id, Delivery.state).where(
            Delivery.broadcast_id == broadcast)).tuples().all())
    assert len(state_of) == len(CROWD)
    # Nobody twice; nobody lost: whoever got nothing is listed unknown, for the coordinator.
    assert all(len(b) <= 1 for b in bodies)
    assert sum(1 for b in bodies if not b) <= unknown
    expected = expected_crowd_bodies(KILLED)
    assert [b for b in bodies if b] == [e for b, e in zip(bodies, expected, strict=True) if b]
    # What the dead worker had sent was found in Twilio's list, not sent again.
    assert reasons(database, broadcast).get("confirmed", 0) + unknown >= went


def test_rate_limits_and_server_errors_still_give_everyone_exactly_one_message(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database
) -> None:
    # Every 5th attempt a 429, every 8th a 500 before creating the message, every 11th a 500 after,
    # over the first pass through the crowd (one batch at the send rate). The second batch retries
    # them all and nothing fails any more: a retry left at the tail of a broadcast waits for the
    # worker's next tick (up to a minute), which this test need not wait for.
    # Twilio's list is read from each claim (minus CLOCK_SKEW): the crowd's messages of the test
    # before must be older, or they would make this test's uncertain sends unknown (by design).
    time.sleep(CLOCK_SKEW.total_seconds() + 1)
    first = FailurePlan(rate_limit_every=5, error_every=8, error_after_create_every=11)
    twilio.set_plan(FailurePlan(script=tuple(first.outcome_for(n) for n in range(1, len(CROWD) + 1))))
    broadcast = send(text_line, "--topic", "mobilization", "--jurisdiction", "ca-los-angeles-county",
                     "--message", FLAKY["en"], f"--translation=es={FLAKY['es']}", recipients=len(CROWD))
    final = wait_settled(database, broadcast, timeout=90)
    twilio.set_plan(FailurePlan())
    assert set(final) <= {"sent", "delivered"} and sum(final.values()) == len(CROWD), final
    assert received(twilio, CROWD) == expected_crowd_bodies(FLAKY)
    outcomes = twilio.stats()["by_outcome"]
    assert all(outcomes.get(o) for o in ("rate_limit", "error", "error_after_create")), outcomes
    # A 500 after Twilio created the message was confirmed from Twilio's list, never resent.
    assert reasons(database, broadcast).get("confirmed", 0) == outcomes["error_after_create"]


@pytest.fixture
def quiet_now(text_line: TextLine) -> Iterator[tuple[str, datetime]]:
    """The worker restarted with quiet hours from an hour ago to an hour from now in California
    (so the test never depends on the time of day); restarted with its own settings after."""
    now = datetime.now(LOS_ANGELES)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    window = f"{start:%H:%M}-{end:%H:%M}"
    worker = text_line.stack.specs["worker"]
    text_line.stack.stop("worker")
    worker.env["QUIET_HOURS"] = window
    try:
        text_line.restart("worker")
        yield window, end.replace(second=0, microsecond=0)
    finally:
        text_line.stack.stop("worker")
        worker.env["QUIET_HOURS"] = text_line.settings.quiet_hours
        text_line.restart("worker")


def test_quiet_hours_defer_a_broadcast_and_an_urgent_one_goes_through(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database, quiet_now: tuple[str, datetime]
) -> None:
    # That deferred deliveries go when quiet hours end is tested with a clock the test moves
    # (tests/integration/test_broadcasts.py): here the end is an hour away.
    window, end = quiet_now
    args = ("--topic", "mobilization", "--jurisdiction", "ca-stanislaus-county")
    deferred = send(text_line, *args, "--message", DEFERRED, recipients=len(QUIET))

    def waiting() -> bool:
        with database.session() as session:
            return service.report(session, deferred).waiting_quiet == len(QUIET)

    wait_for(waiting, 30, "deliveries deferred")
    shown = status(text_line, deferred)
    assert (shown.status, shown.states, shown.reasons) == (
        "sending", {"queued": 2}, {"queued": {"quiet_hours": 2}})
    with database.session() as session:
        until = session.scalars(select(Delivery.not_before).where(Delivery.broadcast_id == deferred)).all()
    assert [as_utc(u) for u in until if u is not None] == [end.astimezone(UTC)] * 2, window

    urgent = send(text_line, *args, "--message", URGENT["en"], f"--translation=es={URGENT['es']}", "--urgent",
                  recipients=len(QUIET))
    assert set(wait_settled(database, urgent)) <= {"sent", "delivered"}
    assert status(text_line, urgent).notes == {"urgent_override": 2}
    assert received(twilio, QUIET) == [[f"{URGENT[p.language]}\n{optout(p.language)}"] for p in QUIET]
    assert status(text_line, deferred).states == {"queued": 2}  # still waiting

    cancelled = puente(text_line, "broadcast", "cancel", str(deferred))
    assert cancelled.strip() == f"Broadcast {deferred} cancelled: 2 deliveries will not be sent."
    shown = status(text_line, deferred)
    assert (shown.status, shown.states) == ("cancelled", {"skipped": 2})
    assert shown.reasons == {"skipped": {"cancelled": 2}}


def test_a_broadcast_for_later_waits_in_the_queue_until_cancelled(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database
) -> None:
    at = (datetime.now(LOS_ANGELES) + timedelta(hours=2)).replace(second=0, microsecond=0)
    out = puente(text_line, "broadcast", "send", "--topic", "mobilization",
                 "--jurisdiction", "ca-stanislaus-county", "--message", LATER, "--at", at.isoformat())
    found = re.match(r"Broadcast (\d+)\n2 recipients\nQueued: the worker sends it (\S+)\. ", out)
    assert found and datetime.fromisoformat(found.group(2)) == at, out
    later = int(found.group(1))
    shown = status(text_line, later)
    assert (shown.status, shown.recipients, shown.states) == ("scheduled", 2, {})
    if text_line.redis_queue is not None:
        # Its task waits in Redis till then, holding the broadcast's id (the final scan reads it).
        assert f"huey.schedule.{text_line.redis_queue}" in redis_queue_keys(text_line.redis_queue)
    cancelled = puente(text_line, "broadcast", "cancel", str(later))
    assert cancelled.strip() == f"Broadcast {later} cancelled: 0 deliveries will not be sent."
    assert status(text_line, later).status == "cancelled"
    assert received(twilio, QUIET) == [[], []]


def test_a_test_send_goes_to_that_one_number_only_and_is_delivered(
    text_line: TextLine, twilio: FakeTwilioControl, database: Database
) -> None:
    out = puente(text_line, "broadcast", "send", "--topic", "hearings", "--jurisdiction", "ca-oakland",
                 "--message", TRIAL["en"], f"--translation=es={TRIAL['es']}", "--language", "es",
                 "--test-to", COORDINATOR.phone)
    found = re.fullmatch(r"Broadcast (\d+)\n1 recipients \(test\)\nTest message: sent, in es, 1 segments\n",
                         out)
    assert found, out
    trial = int(found.group(1))
    assert received(twilio, (COORDINATOR,)) == [[f"{TRIAL['es']}\n{optout('es')}"]]
    assert len(twilio.messages()) == 1  # not the place's subscribers
    # Its status callbacks came as it was being recorded: they are not lost.
    wait_for(lambda: states(database, trial) == {"delivered": 1}, 30, "the test delivered")
