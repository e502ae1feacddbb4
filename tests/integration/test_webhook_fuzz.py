"""`POST /twilio/messages` never answers 500: signed forms with arbitrary fields and values.

Every request is signed as Twilio signs (puente.simulator.sign) over the form as
the server will read it, so it gets past the signature check and into the core.
Each answer must be a 4xx or TwiML that parses, and nothing may log a traceback.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote_from_bytes

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from werkzeug.datastructures import MultiDict

from puente.migrate import upgrade
from puente.simulator import inbound_form, new_message_sid, sign
from tests.conftest import PHONE_ES, make_settings
from tests.fakes import FakeRasa
from tests.integration.conftest import WEBHOOK_URL, Line
from tests.integration.test_inbound import FALLBACK, tr
from webhooks import create_app

MEDIA_ONLY = "I can only read text. Please write your question in a message."
TWILIO_FIELDS = list(inbound_form("x", sender=PHONE_ES))


def make_line(database_url: str, fake: FakeRasa, var_dir: Path) -> Iterator[Line]:
    upgrade(database_url)
    app = create_app(
        make_settings(database_url, rasa_url=fake.url, actions_url=fake.url, state_dir=str(var_dir))
    )
    yield Line(app, app.test_client(), app.config["PUENTE_SETTINGS"], fake, [app])
    app.extensions["puente"].database.dispose()


@pytest.fixture
def sqlite_line(sqlite_url: str, fake_rasa: FakeRasa, var_dir: Path) -> Iterator[Line]:
    yield from make_line(sqlite_url, fake_rasa, var_dir)


@pytest.fixture
def postgres_line(postgres_url: str, fake_rasa: FakeRasa, var_dir: Path) -> Iterator[Line]:
    yield from make_line(postgres_url, fake_rasa, var_dir)


def post_form(line: Line, form: MultiDict[str, str] | dict[str, str]) -> tuple[int, str]:
    signature = sign(WEBHOOK_URL, form, line.settings.twilio_auth_token)
    response = line.client.post("/twilio/messages", data=form, headers={"X-Twilio-Signature": signature})
    return response.status_code, response.get_data(as_text=True)


def post_raw(line: Line, raw: bytes) -> tuple[int, str]:
    """Post urlencoded bytes as they are, signed over the form as the server reads it."""
    read_as = MultiDict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="werkzeug.url_quote"))
    signature = sign(WEBHOOK_URL, read_as, line.settings.twilio_auth_token)
    response = line.client.post(
        "/twilio/messages", data=raw, content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    return response.status_code, response.get_data(as_text=True)


def replies_of(status: int, body: str) -> list[str]:
    """The <Message> texts of a 200 (which must be TwiML); [] for a 4xx. Never a 500."""
    if currently_in_test_context():
        event(f"HTTP {status}")  # --hypothesis-show-statistics: how many reached the core
    assert status < 500, f"HTTP {status}"
    if status != 200:
        assert 400 <= status < 500 and status != 403, f"HTTP {status}"  # signed: never refused as forged
        return []
    root = ET.fromstring(body)  # noqa: S314 - our own answer
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [m.text or "" for m in root]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.levelno < logging.ERROR, f"{record.name}: {record.getMessage()}"
        assert record.exc_info is None, f"{record.name}: {record.getMessage()}"
        assert "Traceback" not in record.getMessage()


# --- strategies -------------------------------------------------------------------

phones = st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True)
senders = st.one_of(
    phones, phones, phones.map(lambda p: "whatsapp:" + p), st.text(max_size=30),
    st.sampled_from(
        ["", " ", "+", "whatsapp:", "+1 (213) 555-0142", "+１２１３５５５０１４２", "+1٢١٣٥٥٥٠١٤٢"]
    ),
)
bodies = st.one_of(
    st.text(max_size=1700),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=50),  # control characters, NUL
    st.sampled_from(["STOP", "PARAR", "停止", "ayuda", "YES", "start", "😀", "مرحبا", "שלום", "x" * 1600]),
)
arbitrary = st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=6)


@st.composite
def signed_forms(draw: st.DrawFn) -> MultiDict[str, str]:
    """Twilio's fields with some dropped, some replaced by anything, some repeated, unknown ones added."""
    form = inbound_form(
        draw(bodies), sender=PHONE_ES, message_sid=new_message_sid(), whatsapp=draw(st.booleans())
    )
    form["From"] = draw(senders)
    for name in draw(st.sets(st.sampled_from(TWILIO_FIELDS), max_size=4)):
        form.pop(name, None)
    form.update(draw(st.dictionaries(st.sampled_from(TWILIO_FIELDS), st.text(max_size=100), max_size=3)))
    form.update(draw(arbitrary))
    fields = MultiDict(form)
    # A field twice ("Body=a&Body=b"): the signature covers both, the webhook reads the first.
    for name, value in draw(st.lists(st.tuples(st.sampled_from(TWILIO_FIELDS), bodies), max_size=2)):
        fields.add(name, value)
    return fields


FUZZ = settings(
    deadline=None,
    database=None,  # no .hypothesis/ folder in the checkout
    suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
    ],
)


@settings(FUZZ, max_examples=500)
@given(form=signed_forms())
def test_no_form_gets_a_500_on_sqlite(
    sqlite_line: Line, caplog: pytest.LogCaptureFixture, form: MultiDict[str, str]
) -> None:
    caplog.clear()
    replies_of(*post_form(sqlite_line, form))
    assert_no_traceback(caplog)


@settings(FUZZ, max_examples=100)
@given(form=signed_forms())
def test_no_form_gets_a_500_on_postgresql(
    postgres_line: Line, caplog: pytest.LogCaptureFixture, form: MultiDict[str, str]
) -> None:
    caplog.clear()
    replies_of(*post_form(postgres_line, form))
    assert_no_traceback(caplog)


@pytest.fixture
def line_without_database(sqlite_url: str, fake_rasa: FakeRasa, var_dir: Path) -> Iterator[Line]:
    upgrade(sqlite_url)
    read_only = f"sqlite:///file:{sqlite_url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    for line in make_line(read_only, fake_rasa, var_dir):
        assert line.text("hello, what can you do?", PHONE_ES)[1] == [FALLBACK]  # it is down
        yield line


@settings(FUZZ, max_examples=200)
@given(form=signed_forms())
def test_no_form_gets_a_500_while_the_database_is_down(
    line_without_database: Line, caplog: pytest.LogCaptureFixture, form: MultiDict[str, str]
) -> None:
    caplog.clear()
    replies_of(*post_form(line_without_database, form))
    assert_no_traceback(caplog)


# --- the cases named in the issue ---------------------------------------------------------


def form_with(body: str | None = "hola", sender: str | None = PHONE_ES, **fields: str) -> dict[str, str]:
    form = inbound_form(body or "", sender=sender or PHONE_ES)
    if body is None:
        del form["Body"]
    if sender is None:
        del form["From"]
    form.update(fields)
    return form


@pytest.mark.parametrize(
    ("form", "status"),
    [
        (form_with(sender=None), 400),
        (form_with(sender="not a number"), 400),
        (form_with(sender="+1 213 555 ٠١٤٢"), 400),  # digits, but not ASCII ones
        (form_with(sender="whatsapp:"), 400),
        ({k: v for k, v in form_with().items() if k not in ("MessageSid", "SmsSid", "SmsMessageSid")}, 400),
        (form_with(body=None), 200),
        (form_with("😀🎉🙏"), 200),
        (form_with("مرحبا، ماذا يمكنك أن تفعل؟"), 200),
        (form_with("שלום, מה אתה יכול לעשות?"), 200),
        (form_with("a" * 1600), 200),
        (form_with("b" * 5000), 200),
        (form_with("\x01\x02\x07\x1b[31mhola\x7f"), 200),
        (form_with("hola\x00mundo"), 200),
        (form_with("\x00"), 200),
        (form_with("hola", MessageSid="SM\x00abc", SmsSid="SM\x00abc"), 200),
    ],
    ids=[
        "no-From", "From-not-a-number", "From-non-ascii-digits", "From-empty-whatsapp", "no-MessageSid",
        "no-Body", "emoji-only", "arabic", "hebrew", "1600-chars", "5000-chars", "control-chars",
        "nul-inside", "nul-only", "nul-in-MessageSid",
    ],
)
def test_unusual_forms_get_a_clear_answer(
    line: Line, caplog: pytest.LogCaptureFixture, form: dict[str, str], status: int
) -> None:
    got, body = post_form(line, form)
    assert got == status
    replies = replies_of(got, body)
    if status == 200:
        assert replies
    assert_no_traceback(caplog)


def test_a_media_only_message_is_asked_for_text(line: Line) -> None:
    form = form_with(
        "", NumMedia="1", MediaContentType0="image/jpeg", MediaUrl0="https://api.twilio.com/2010-04-01/m/ME1"
    )
    assert replies_of(*post_form(line, form)) == [MEDIA_ONLY]
    spanish = form_with("", sender="+12135550143", NumMedia="1")
    line.text("hola", "+12135550143")  # someone who writes in Spanish gets it in Spanish
    assert replies_of(*post_form(line, spanish)) == [tr("es", MEDIA_ONLY)]
    assert line.rasa.requests[-1]["message"] == "hola"  # media alone never reaches Rasa


@pytest.mark.parametrize("raw_body", [b"%FF%FEhola", b"%ED%A0%80", b"%C3%28", b"%F0%9F%98"])
def test_bytes_that_are_not_utf8_are_read_as_text_never_a_500(
    line: Line, caplog: pytest.LogCaptureFixture, raw_body: bytes
) -> None:
    # Werkzeug keeps undecodable bytes percent-encoded ("%FF" stays the three characters
    # %FF). The signature is checked over that text: Twilio, which only ever signs real
    # text, could not have signed these, so only a sender with the token gets past.
    form = form_with("x")
    del form["Body"]
    raw = "&".join(f"{k}={quote_from_bytes(v.encode())}" for k, v in form.items()).encode()
    raw += b"&Body=" + raw_body
    assert len(replies_of(*post_raw(line, raw))) == 1
    assert_no_traceback(caplog)


def test_undecodable_bytes_signed_any_other_way_are_refused(line: Line) -> None:
    form = form_with("x")
    form["Body"] = b"\xff\xfehola".decode("latin-1")  # what a signer reading bytes as Latin-1 signs
    signature = sign(WEBHOOK_URL, form, line.settings.twilio_auth_token)
    raw = "&".join(f"{k}={quote_from_bytes(v.encode())}" for k, v in form.items() if k != "Body").encode()
    response = line.client.post(
        "/twilio/messages", data=raw + b"&Body=%FF%FEhola", content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403


def test_a_body_that_is_not_even_urlencoded_text_is_refused(line: Line) -> None:
    response = line.client.post(
        "/twilio/messages", data=b"From=%2B12135550142&Body=\xff\xfe",
        content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": "x"},
    )
    assert response.status_code == 403
