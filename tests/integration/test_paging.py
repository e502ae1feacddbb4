"""MORE and place-only messages at the webhook, with a fake Rasa: before Rasa, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import update

from puente.directory.store import import_directory
from puente.i18n import registry
from puente.messaging.paging import PendingPages
from puente.messaging.segments import SMS_SEGMENT_BUDGET, segments
from puente.models import utcnow
from tests.conftest import PHONE_EN, PHONE_ES
from tests.integration.conftest import Line

PROMPT = "Reply MORE for the rest."
LONG = " ".join(f"Sentence number {i} says something worth knowing." for i in range(40))
FIXTURE = Path(__file__).parent.parent / "fixtures" / "places.yaml"


def test_a_long_answer_is_paged_and_more_sends_the_rest_without_asking_rasa(line: Line) -> None:
    line.rasa.reply_text = LONG
    status, replies = line.text("what strategies work here?", PHONE_EN)
    assert status == 200 and len(replies) == 1 and replies[0].endswith("\n" + PROMPT)
    asked = len(line.rasa.requests)
    pages = [replies[0]]
    while pages[-1].endswith(PROMPT):
        assert segments(pages[-1]) <= SMS_SEGMENT_BUDGET
        _, more = line.text("more", PHONE_EN)
        pages.append(more[0])
    assert len(line.rasa.requests) == asked  # MORE never reached Rasa
    assert " ".join(p.removesuffix(PROMPT) for p in pages).split() == LONG.split()
    line.rasa.reply_text = None
    assert line.text("MORE", PHONE_EN)[1] == ["fake reply in en"]  # nothing left: an ordinary word
    assert len(line.rasa.requests) == asked + 1


def test_more_in_the_persons_language_and_a_new_answer_replaces_the_rest(line: Line) -> None:
    line.rasa.reply_text = LONG
    line.text("hola, ¿qué estrategias sirven aquí?", PHONE_ES)
    first = line.text("MÁS", PHONE_ES)[1]
    assert first[0].endswith(registry().gettext("es", PROMPT))
    line.rasa.reply_text = "short answer"
    assert line.text("otra pregunta sobre clinicas legales", PHONE_ES)[1] == ["short answer"]
    assert line.text("mas", PHONE_ES)[1] == ["short answer"]  # the old pages are gone: Rasa answers


def test_the_rest_expires(line: Line) -> None:
    line.rasa.reply_text = LONG
    line.text("what strategies work here?", PHONE_EN)
    with line.app.extensions["puente"].database.session() as session:
        session.execute(update(PendingPages).values(expires_at=utcnow() - timedelta(minutes=1)))
    line.rasa.reply_text = "fresh"
    assert line.text("MORE", PHONE_EN)[1] == ["fresh"]


def test_whatsapp_takes_up_to_1600_characters_in_one_message(line: Line) -> None:
    line.rasa.reply_text = LONG[:1500]
    assert line.text("what strategies work here?", PHONE_EN, whatsapp=True)[1] == [LONG[:1500]]


def test_a_message_that_only_names_a_place_reaches_rasa_as_that_place(line: Line) -> None:
    with line.app.extensions["puente"].database.session() as session:
        import_directory(session, yaml.safe_load(FIXTURE.read_text()))
    line.text("hello", PHONE_EN)
    for body, sent in [
        ("95407", '/inform_place{"area": "ca-santa-rosa"}'),
        ("en Modesto", '/inform_place{"area": "ca-modesto"}'),
        ("I live in Modesto", '/inform_place{"area": "ca-modesto"}'),
        ("is santa rosa a sanctuary city?", "is santa rosa a sanctuary city?"),
        ("Kern ICE", "Kern ICE"),  # a question about a place, not only the place: Rasa reads it
        ("圣罗莎诊所", "圣罗莎诊所"),
        # Only Puente's own payload may start with "/": a person cannot pick Rasa's intents.
        ("/restart", "restart"),
        ('/ask_policy{"area": "ca"}', 'ask_policy{"area": "ca"}'),
    ]:
        line.text(body, PHONE_EN)
        assert line.rasa.requests[-1]["message"] == sent, body
