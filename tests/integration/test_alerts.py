"""Alerts and consent through the webhook, on SQLite and PostgreSQL (Rasa faked on loopback).

A sign-up starts in an action (Rasa classifies the request); here the action's call into the
core is made directly, and every answer after it goes through the webhook, as a person's would.
The real Rasa and action server run the whole path in tests/e2e/test_alerts_e2e.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from puente.alerts import signup
from puente.alerts.models import ConsentRecord, Subscription, Suppression
from puente.contacts import find_by_pseudonym, find_contact
from puente.directory.store import import_directory
from puente.models import Contact, ContactChannel, InboundMessage
from puente.questions import OpenQuestion
from tests.conftest import PHONE_EN, PHONE_ES, PHONE_WA
from tests.integration.conftest import Line
from tests.integration.test_directory import fixture_data
from tests.integration.test_inbound import HELP_REPLY, STOP_REPLY, tr

PHONE_VI = "+17145550145"


def core(line: Line) -> Any:
    return line.app.extensions["puente"]


def directory(line: Line) -> None:
    with core(line).database.session() as session:
        import_directory(session, fixture_data())


def alerts_of(line: Line, session: Session, phone: str, channel: str, turn: int | None = None
              ) -> signup.Alerts:
    """What an alert action works with, for the person texting from `phone`."""
    services = core(line)
    contact = find_contact(session, services.vault, phone)
    assert contact is not None
    return signup.Alerts(session, services.languages, services.places.index_in(session), contact,
                         contact.language, channel, turn)


def ask_for_alerts(line: Line, phone: str, request: str, *, whatsapp: bool = False) -> str:
    """What the subscribe action does for `request` (Rasa's part is tested end to end)."""
    with core(line).database.session() as session:
        return signup.subscribe(alerts_of(line, session, phone, "whatsapp" if whatsapp else "sms"),
                                request, None)


def count(line: Line, model: Any, **where: Any) -> int:
    with core(line).database.session() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


def test_a_sign_up_asks_only_what_is_missing_and_keeps_the_exact_consent(line: Line) -> None:
    directory(line)
    line.text("hola, ¿qué puedes hacer por mí?", PHONE_ES)
    assert ask_for_alerts(line, PHONE_ES, "quiero alertas") == tr(
        "es", "Which alerts do you want? Reply with numbers: 1 hearings, 2 mobilization, "
              "3 policy updates, 4 legal clinic days. Or reply ALL.")
    assert line.text("1 2", PHONE_ES)[1] == [tr("es", "For which city, county, school district or ZIP code?")]
    [consent] = line.text("Condado de Kern", PHONE_ES)[1]
    assert "Kern" in consent and "SÍ" in consent and "Español" in consent
    assert count(line, Subscription) == 0  # nothing before their YES
    assert line.text("sí", PHONE_ES)[1] == [tr(
        "es", 'Done! You\'ll get %(topics)s alerts for %(place)s. Text "my alerts" to see them, STOP to end.'
    ) % {"topics": "audiencias y movilización", "place": "Condado de Kern"}]
    with core(line).database.session() as session:
        rows = session.scalars(select(Subscription).order_by(Subscription.topic)).all()
        assert [(r.topic, r.jurisdiction_id, r.channel, r.language) for r in rows] == [
            ("hearings", "ca-kern-county", "sms", "es"), ("mobilization", "ca-kern-county", "sms", "es")]
        record = session.scalars(select(ConsentRecord)).one()
        assert (record.action, record.source, record.channel, record.language) == (
            "subscribe", "text", "sms", "es")
        assert record.text == consent  # the exact words they agreed to
        assert session.scalar(select(func.count()).select_from(OpenQuestion)) == 0


def test_a_request_that_names_everything_goes_straight_to_the_confirmation(line: Line) -> None:
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    consent = ask_for_alerts(line, PHONE_EN, "alert me about hearings in Kern County")
    assert consent == ("Confirm: hearing alerts for Kern County in English. Urgent mobilization alerts may "
                       "come at any hour. Msg & data rates may apply. Reply YES to confirm.")
    assert line.text("no", PHONE_EN)[1] == ["OK, nothing changed."]
    assert count(line, Subscription) == 0
    assert line.text("YES", PHONE_EN)[1] == ["fake reply in en"]  # no open question: Rasa's


def test_an_unrelated_message_leaves_the_question_open_for_rasa(line: Line) -> None:
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    ask_for_alerts(line, PHONE_EN, "sign me up for alerts")
    assert line.text("what is SB 54?", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("3", PHONE_EN)[1] == ["For which city, county, school district or ZIP code?"]
    assert line.text("93301", PHONE_EN)[1][0].startswith("Confirm: policy update alerts for ")
    assert line.text("yes", PHONE_EN)[1][0].startswith("Done! You'll get policy update alerts")
    assert count(line, Subscription, topic="policy_updates") == 1


def test_stop_pauses_alerts_start_resumes_and_delete_erases_everything(line: Line) -> None:
    directory(line)
    line.text("hello, what can you do?", PHONE_WA, whatsapp=True)
    ask_for_alerts(line, PHONE_WA, "alert me about hearings in Fresno", whatsapp=True)
    line.text("YES", PHONE_WA, whatsapp=True)
    assert count(line, Subscription, channel="whatsapp") == 1
    assert line.text("STOP", PHONE_WA, whatsapp=True)[1] == [STOP_REPLY]
    assert line.text("hello?", PHONE_WA, whatsapp=True)[1] == []
    assert count(line, Subscription) == 1  # paused, not lost: START resumes them
    assert line.text("START", PHONE_WA, whatsapp=True)[1][0].startswith("Welcome back!")

    with core(line).database.session() as session:
        contact = find_contact(session, core(line).vault, PHONE_WA)
        assert contact is not None
        pseudonym = contact.pseudonym
        # Rasa's tracker store shares the database: a table shaped like Rasa's, with their events.
        session.execute(text("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
                             "sender_id VARCHAR(255), type_name VARCHAR(255), timestamp FLOAT, data TEXT)"))
        session.execute(text("INSERT INTO events (id, sender_id, type_name, timestamp, data) VALUES "
                             "(1, :s, 'user', 1.0, 'hello'), (2, 'someone-else', 'user', 1.0, 'hi')"),
                        {"s": pseudonym})
    assert line.text("DELETE", PHONE_WA, whatsapp=True)[1] == [
        "Reply DELETE again within 10 minutes to erase your number, alerts and messages from Puente. "
        "This can't be undone."]
    assert line.text("YES", PHONE_WA, whatsapp=True)[1] == ["To erase, reply DELETE. Nothing was erased."]
    assert count(line, Subscription) == 1  # YES never confirms an erasure
    [erased] = line.text("delete", PHONE_WA, whatsapp=True)[1]
    assert erased.startswith("Erased:")
    for model in (Contact, Subscription, ConsentRecord, OpenQuestion, ContactChannel):
        assert count(line, model) == 0, model
    assert count(line, Suppression) == 1
    with core(line).database.session() as session:
        # The log keeps only the DELETE's own entry (it dedupes a retry), linked to nobody.
        assert session.execute(select(InboundMessage.contact_id, InboundMessage.route)).all() == [
            (None, "erased")]
        assert session.scalars(text("SELECT sender_id FROM events")).all() == ["someone-else"]
        session.execute(text("DROP TABLE events"))
    # A later text starts from nothing; only their own sign-up lifts the suppression.
    assert line.text("hello again, what can you do?", PHONE_WA, whatsapp=True)[1] == ["fake reply in en"]
    with core(line).database.session() as session:
        fresh = find_contact(session, core(line).vault, PHONE_WA)
        assert fresh is not None and fresh.pseudonym != pseudonym
    ask_for_alerts(line, PHONE_WA, "alert me about hearings in Fresno", whatsapp=True)
    assert count(line, Suppression) == 1
    line.text("YES", PHONE_WA, whatsapp=True)
    assert count(line, Suppression) == 0 and count(line, Subscription) == 1


def test_someone_opted_out_is_erased_at_once_and_help_always_answers(line: Line) -> None:
    line.text("PARAR", PHONE_ES)
    assert line.text("AYUDA", PHONE_ES)[1] == [tr("es", HELP_REPLY)]
    [erased] = line.text("BORRAR", PHONE_ES)[1]
    assert erased == tr("es", "Erased: your number, alerts, consent records and messages. Puente keeps only "
                              "a locked record of your number so no list can sign you up again. Text "
                              "anytime to start over.")
    assert count(line, Contact) == 0 and count(line, Suppression) == 1
    with core(line).database.engine.connect() as connection:
        routes = {r for r, in connection.execute(select(InboundMessage.route))}
    assert routes == {"erased"}  # only the DELETE's own entry, linked to nobody (it dedupes a retry)


def test_vietnamese_stop_and_erase_words_without_diacritics_ask_first(line: Line) -> None:
    line.text("xin chào, bạn giúp được gì cho tôi?", PHONE_VI)
    assert line.text("Dũng", PHONE_VI)[1] == ["fake reply in vi"]  # a name, not DỪNG
    [asked] = line.text("dung", PHONE_VI)[1]
    assert "DỪNG" in asked and asked == tr("vi", "Do you want to stop all messages from Puente? "
                                                 "Reply %(word)s to stop.") % {"word": "DỪNG"}
    with core(line).database.session() as session:
        assert find_contact(session, core(line).vault, PHONE_VI).opted_out_at is None  # type: ignore[union-attr]
    assert line.text("không", PHONE_VI)[1] == [tr("vi", "OK, nothing changed.")]
    line.text("dung", PHONE_VI)
    assert line.text("có", PHONE_VI)[1] == [tr("vi", STOP_REPLY)]
    line.text("BẮT ĐẦU", PHONE_VI)
    assert line.text("xoa", PHONE_VI)[1] == [tr(
        "vi", "Reply %(word)s again within 10 minutes to erase your number, alerts and messages from Puente. "
              "This can't be undone.") % {"word": "XÓA"}]
    assert count(line, Contact) == 1
    assert line.text("XÓA", PHONE_VI)[1][0] == tr(
        "vi", "Erased: your number, alerts, consent records and messages. Puente keeps only a locked record "
              "of your number so no list can sign you up again. Text anytime to start over.")
    assert count(line, Contact) == 0


def test_with_twilio_answering_its_words_puente_records_them_and_stays_quiet(line: Line) -> None:
    quiet = line.restarted(twilio_answers_keywords=True, support_contact="Kern Coalition, (661) 555-0190")
    assert quiet.text("STOP", PHONE_EN)[1] == []
    assert count(line, Contact, opted_out_via="twilio") == 1  # recorded, though Twilio answered
    assert quiet.text("HELP", PHONE_EN)[1] == []
    # Twilio blocks the number until one of its own start words: a localized one changes nothing.
    assert quiet.text("COMENZAR", PHONE_EN)[1] == []
    assert count(line, Contact, opted_out_via="twilio") == 1
    assert quiet.text("START", PHONE_EN)[1] == []
    assert count(line, Contact, opted_out_at=None) == 1  # back in
    # Twilio answers its words on SMS only: on WhatsApp, Puente answers every keyword itself.
    assert quiet.text("HELP", PHONE_WA, whatsapp=True)[1][0].startswith("Puente is run by Kern Coalition")
    assert quiet.text("STOP", PHONE_WA, whatsapp=True)[1] == [STOP_REPLY]
    # Words Twilio does not know are Puente's to answer, and HELP names who runs the line.
    [help_es] = quiet.text("AYUDA", PHONE_EN)[1]
    assert help_es == tr("es", "Puente is run by %(support)s.") % {
        "support": "Kern Coalition, (661) 555-0190"} + " " + tr("es", HELP_REPLY)


def test_channels_are_remembered_for_whatsapps_window(line: Line) -> None:
    line.text("hello, what can you do?", PHONE_EN)
    line.text("hello, what can you do?", PHONE_EN, whatsapp=True)
    with core(line).database.session() as session:
        contact = find_contact(session, core(line).vault, PHONE_EN)
        assert contact is not None and find_by_pseudonym(session, contact.pseudonym) is contact
        channels = sorted(session.scalars(select(ContactChannel.channel)).all())
        assert channels == ["sms", "whatsapp"]


def test_a_delete_from_a_number_puente_holds_nothing_about_stores_nothing(line: Line) -> None:
    assert line.text("DELETE", PHONE_EN)[1] == ["Puente has nothing stored about this number."]
    assert count(line, Contact) == 0
    line.text("PARAR", PHONE_ES)
    line.text("BORRAR", PHONE_ES)  # erased at once
    assert line.text("BORRAR", PHONE_ES)[1] == [tr(
        "es", "Puente keeps only a locked record of this number, so that no list can sign you up again. "
              "Nothing else is stored.")]
    assert count(line, Contact) == 0 and count(line, Suppression) == 1


def test_a_question_of_its_own_is_not_taken_for_an_answer(line: Line) -> None:
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    ask_for_alerts(line, PHONE_EN, "sign me up for alerts")
    assert line.text("is there a legal clinic near Fresno?", PHONE_EN)[1] == ["fake reply in en"]
    # "hearings in Fresno" answers which alerts and the place at once.
    assert line.text("hearings in Fresno", PHONE_EN)[1][0].startswith(
        "Confirm: hearing alerts for Fresno in English.")
    ask_for_alerts(line, PHONE_EN, "I want hearing alerts")
    assert line.text("does Kern County have a sanctuary policy?", PHONE_EN)[1] == ["fake reply in en"]
    assert line.text("I live in Bakersfield", PHONE_EN)[1][0].startswith(
        "Confirm: hearing alerts for Bakersfield in English.")


def test_a_change_of_area_keeps_the_channel_the_alerts_go_to(line: Line) -> None:
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    ask_for_alerts(line, PHONE_EN, "alert me about hearings in Kern County")
    line.text("YES", PHONE_EN)
    with core(line).database.session() as session:
        signup.change_area(alerts_of(line, session, PHONE_EN, "whatsapp"), "change my area to Fresno")
    line.text("YES", PHONE_EN, whatsapp=True)
    with core(line).database.session() as session:
        rows = session.execute(select(Subscription.jurisdiction_id, Subscription.channel)).all()
        assert rows == [("ca-fresno", "sms")]


def test_a_question_in_a_reply_that_never_arrived_is_not_answered(line: Line) -> None:
    """The action asked (and kept the consent text) while Rasa answered too late: the person got
    the fallback, so their YES cannot agree to a text they never saw."""
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    with core(line).database.session() as session:
        late = session.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
        assert late is not None
        late.route = "fallback"
        signup.subscribe(alerts_of(line, session, PHONE_EN, "sms", turn=late.id),
                         "alert me about hearings in Kern County", None)
    assert line.text("YES", PHONE_EN)[1] == ["fake reply in en"]
    assert count(line, Subscription) == 0 and count(line, OpenQuestion) == 0


def test_questions_expire(line: Line) -> None:
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    ask_for_alerts(line, PHONE_EN, "alert me about hearings in Kern County")
    line.text("DELETE", PHONE_EN)
    with core(line).database.session() as session:
        question = session.scalars(select(OpenQuestion)).one()
        assert question.kind == "confirm_delete"
        question.expires_at = question.asked_at  # ten minutes later
    assert line.text("DELETE", PHONE_EN)[1][0].startswith("Reply DELETE again")  # asked anew
    assert count(line, Contact) == 1
    ask_for_alerts(line, PHONE_EN, "alert me about hearings in Kern County")
    with core(line).database.session() as session:
        question = session.scalars(select(OpenQuestion)).one()
        question.expires_at = question.asked_at  # thirty minutes later
    assert line.text("YES", PHONE_EN)[1] == ["fake reply in en"]
    assert count(line, Subscription) == 0


def test_an_open_question_comes_before_more(line: Line) -> None:
    """Rule 6 before rule 7: with a question open and pages waiting, "1" answers the question."""
    directory(line)
    line.text("hello, what can you do?", PHONE_EN)
    line.rasa.reply_text = "A long answer. " * 60  # more than three SMS segments: paged
    first = line.text("tell me everything", PHONE_EN)[1]
    assert first[0].endswith("Reply MORE for the rest.")
    ask_for_alerts(line, PHONE_EN, "sign me up for alerts")
    assert line.text("1", PHONE_EN)[1] == ["For which city, county, school district or ZIP code?"]
    assert line.text("MORE", PHONE_EN)[1][0].startswith("A long answer.")
