"""The inbound webhook on real SQLite and PostgreSQL, with a fake Rasa on loopback."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from puente.db import Base
from puente.i18n import registry
from puente.models import Contact, InboundMessage
from puente.simulator import inbound_form, new_message_sid, sign
from tests.conftest import PHONE_EN, PHONE_ES, PHONE_WA
from tests.integration.conftest import WEBHOOK_URL, Line

STOP_REPLY = "You are unsubscribed from Puente and will get no more messages. Text START to come back."
HELP_REPLY = (
    "Puente answers questions about local immigrant-rights policies. Text STOP to end, "
    "DELETE to erase your data. Msg & data rates may apply."
)
START_REPLY = "Welcome back! You are subscribed to Puente again. Text HELP for help or STOP to unsubscribe."
FALLBACK = "Sorry, Puente can't answer right now. Please try again in a few minutes."


def tr(language: str, message: str) -> str:
    translated = registry().gettext(language, message)
    assert language == "en" or translated != message, f"{message!r} is not translated to {language}"
    return translated


def test_hola_reaches_rasa_in_spanish_under_a_pseudonym(line: Line) -> None:
    status, replies = line.text("hola", PHONE_ES)
    assert status == 200
    assert replies == ["fake reply in es"]
    [sent] = line.rasa.requests
    assert sent["message"] == "hola"
    assert sent["metadata"] == {"language": "es", "channel": "sms", "turn": 1}  # turn: the log entry
    assert sent["sender"].startswith("p") and PHONE_ES[1:] not in sent["sender"]


def test_unsigned_or_wrongly_signed_requests_are_refused(line: Line) -> None:
    form = inbound_form("hola", sender=PHONE_ES)
    assert line.client.post("/twilio/messages", data=form).status_code == 403
    assert line.text("hola", PHONE_ES, signature="bm90IGEgc2lnbmF0dXJl")[0] == 403
    assert line.rasa.requests == []


def test_a_signature_made_with_another_token_is_refused(line: Line) -> None:
    form = inbound_form("hola", sender=PHONE_ES)
    forged = sign(WEBHOOK_URL, form, "not-the-token")
    assert line.text("hola", PHONE_ES, signature=forged)[0] == 403


def test_a_redelivered_message_sid_gets_an_empty_response_even_after_a_restart(line: Line) -> None:
    sid = new_message_sid()
    assert line.text("hello", PHONE_EN, sid=sid) == (200, ["fake reply in en"])
    assert line.text("hello", PHONE_EN, sid=sid) == (200, [])

    restarted = line.restarted()
    form = inbound_form("hello", sender=PHONE_EN, message_sid=sid)
    header = sign(WEBHOOK_URL, form, line.settings.twilio_auth_token)
    response = restarted.client.post("/twilio/messages", data=form, headers={"X-Twilio-Signature": header})
    assert response.status_code == 200
    root = ET.fromstring(response.get_data())  # noqa: S314 - our own TwiML
    assert (root.tag, list(root)) == ("Response", [])  # a TwiML answer with no message
    assert len(line.rasa.requests) == 1


def test_whatsapp_sender_is_one_contact_on_the_whatsapp_channel(line: Line) -> None:
    status, replies = line.text("hello there, what is this?", PHONE_WA, whatsapp=True)
    assert (status, replies) == (200, ["fake reply in en"])
    assert line.rasa.requests[0]["metadata"]["channel"] == "whatsapp"
    with line.app.extensions["puente"].database.session() as session:
        contact = session.scalars(select(Contact)).one()
        assert contact.channel == "whatsapp"
        assert contact.phone_encrypted is not None
        assert line.app.extensions["puente"].vault.decrypt(contact.phone_encrypted) == PHONE_WA


def test_stop_help_start_in_english_and_spanish(line: Line) -> None:
    assert line.text("hola", PHONE_ES)[1] == ["fake reply in es"]
    assert line.text("PARAR", PHONE_ES)[1] == [tr("es", STOP_REPLY)]
    # After STOP: no reply at all, but to START, HELP and DELETE (as Twilio does for its words).
    assert line.text("¿como estas?", PHONE_ES)[1] == []
    assert line.text("PARAR", PHONE_ES)[1] == []  # one confirmation, and nothing after it
    assert line.text("Ayuda", PHONE_ES)[1] == [tr("es", HELP_REPLY)]
    assert line.text("start", PHONE_ES)[1] == [tr("es", START_REPLY)]
    assert line.text("hola otra vez", PHONE_ES)[1] == ["fake reply in es"]

    assert line.text(" Stop! ", PHONE_EN)[1] == [STOP_REPLY]
    assert line.text("YES", PHONE_EN)[1] == [START_REPLY]  # YES opts back in only the opted out
    assert line.text("YES", PHONE_EN)[1] == ["fake reply in en"]  # otherwise it is an answer
    assert line.text("START", PHONE_EN)[1] == ["fake reply in en"]  # to someone who never stopped: a message
    assert line.text("please don't stop", PHONE_EN)[1] == ["fake reply in en"]
    assert len(line.rasa.requests) == 5


def test_opt_out_is_recorded_without_the_number(line: Line) -> None:
    line.text("STOP", PHONE_EN)
    with line.app.extensions["puente"].database.session() as session:
        contact = session.scalars(select(Contact)).one()
        assert contact.opted_out_at is not None
        routes = session.scalars(select(InboundMessage.route)).all()
        assert routes == ["stop"]


def test_an_empty_body_asks_for_text(line: Line) -> None:
    assert line.text("", PHONE_EN)[1] == ["I can only read text. Please write your question in a message."]
    assert line.rasa.requests == []


def test_bad_form_input_is_a_clear_400(line: Line) -> None:
    for form in (
        {"Body": "hola", "From": PHONE_ES},  # no MessageSid
        inbound_form("hola", sender="not-a-number"),
    ):
        header = sign(WEBHOOK_URL, form, line.settings.twilio_auth_token)
        response = line.client.post("/twilio/messages", data=form, headers={"X-Twilio-Signature": header})
        assert response.status_code == 400


def test_no_plaintext_phone_number_in_any_table(line: Line) -> None:
    for phone, whatsapp in ((PHONE_ES, False), (PHONE_WA, True)):
        line.text("hola", phone, whatsapp=whatsapp)
        line.text("STOP", phone, whatsapp=whatsapp)
    database = line.app.extensions["puente"].database
    with database.engine.connect() as connection:
        dump = ""
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                dump += repr(tuple(row))
    assert dump
    for phone in (PHONE_ES, PHONE_WA):
        assert phone[2:] not in dump and phone[-4:] + "'" not in dump


def test_rasa_down_gets_a_localized_reply_fast(line: Line) -> None:
    down = line.restarted(rasa_url="http://127.0.0.1:9")
    started = time.monotonic()
    assert down.text("hola, ¿qué tal?", PHONE_ES)[1] == [tr("es", FALLBACK)]
    assert time.monotonic() - started < 15
    down.worker_beats()
    health = down.client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["down"] == ["rasa"]


def test_action_server_failure_gets_the_fallback(line: Line) -> None:
    line.rasa.mode = "empty"  # what Rasa answers when a custom action failed
    assert line.text("hello", PHONE_EN)[1] == [FALLBACK]
    with line.app.extensions["puente"].database.session() as session:
        assert session.scalar(select(func.count()).where(InboundMessage.route == "fallback")) == 1


def test_healthz_is_200_when_everything_answers(line: Line) -> None:
    line.worker_beats()
    response = line.client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["services"] == {
        "webhooks": "ok", "database": "ok", "rasa": "ok", "actions": "ok", "worker": "ok",
    }


def test_language_follows_two_clear_messages_but_not_one_or_a_word(line: Line) -> None:
    assert line.text("hello", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("gracias", PHONE_EN)[1] == ["fake reply in en"]  # one word: could be anyone
    # One clear message in another language is not enough ("Is Santa Ana a sanctuary city?"
    # once read as Tagalog); two in a row are.
    assert line.text("hola, quisiera saber qué puedes hacer por mí", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("hello again, what can you do", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("hola, quisiera saber qué puedes hacer por mí", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("¿y dónde hay una clínica legal gratuita?", PHONE_EN)[1] == ["fake reply in es"]
    assert line.text("ok", PHONE_EN)[1] == ["fake reply in es"]
    with line.app.extensions["puente"].database.session() as session:
        contact = session.scalars(select(Contact)).one()
        assert (contact.language, contact.language_source) == ("es", "detected")


def test_an_oversized_request_is_refused_before_anything_is_read(line: Line) -> None:
    form = inbound_form("x" * 100_000, sender=PHONE_EN)
    header = sign(WEBHOOK_URL, form, line.settings.twilio_auth_token)
    response = line.client.post("/twilio/messages", data=form, headers={"X-Twilio-Signature": header})
    assert response.status_code == 413
    assert line.rasa.requests == []


def test_a_localized_keyword_is_answered_in_its_language_without_changing_the_persons(line: Line) -> None:
    assert line.text("hello there, what can you do?", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("AYUDA", PHONE_EN)[1] == [tr("es", HELP_REPLY)]
    assert line.text("what can you do for me?", PHONE_EN)[1] == ["fake reply in en"]
    with line.app.extensions["puente"].database.session() as session:
        assert session.scalars(select(Contact)).one().language == "en"


def test_short_messages_and_emoji_decide_nothing(line: Line) -> None:
    assert line.text("hi!", PHONE_EN)[1] == ["fake reply in en"]  # a first message of two letters
    assert line.text("gracias 🙏", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("si 👍", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("ok 😊", PHONE_ES)[1] == ["fake reply in en"]  # a new person: the default
