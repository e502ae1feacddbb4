"""End to end, through the webhook (real Rasa, real actions): alerts with consent, in every language,
over SMS and WhatsApp. A person asks for alerts in their own words, confirms with their own YES,
lists what they get, moves them to another place, leaves a topic; a localized STOP stops everything,
START resumes, HELP answers, and DELETE erases them from Puente's tables and Rasa's tracker store.

The expected texts come from the catalogs; what was stored is checked in the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from puente.alerts.models import ConsentRecord, Subscription, Suppression
from puente.contacts import find_contact
from puente.models import Contact, ContactChannel, InboundMessage
from puente.questions import OpenQuestion
from puente.services import Services
from tests.e2e.conftest import TextLine
from tests.e2e.texts import tr

pytestmark = pytest.mark.e2e

HELP = ("Puente answers questions about local immigrant-rights policies. Text STOP to end, "
        "DELETE to erase your data. Msg & data rates may apply.")
STOPPED = "You are unsubscribed from Puente and will get no more messages. Text START to come back."
WELCOME_BACK = "Welcome back! You are subscribed to Puente again. Text HELP for help or STOP to unsubscribe."
CONSENT = ("Confirm: %(topics)s alerts for %(place)s in %(language)s. Urgent mobilization alerts may come at "
           "any hour. Msg & data rates may apply. Reply YES to confirm.")
SIGNED_UP = 'Done! You\'ll get %(topics)s alerts for %(place)s. Text "my alerts" to see them, STOP to end.'
ASK_DELETE = ("Reply %(word)s again within 10 minutes to erase your number, alerts and messages from Puente. "
              "This can't be undone.")
ERASED = ("Erased: your number, alerts, consent records and messages. Puente keeps only a locked record of "
          "your number so no list can sign you up again. Text anytime to start over.")


@dataclass(frozen=True)
class Person:
    language: str
    subscribe: str  # hearings and mobilization in Kern County, in their words
    yes: str
    list_: str
    change_area: str  # to Fresno
    leave: str  # no more mobilization alerts
    stop: str
    start: str
    help: str
    delete: str


PEOPLE = {
    "en": Person("en", "alert me about hearings and rallies in Kern County", "YES",
                 "what alerts do I get?", "change my area to Fresno", "no more mobilization alerts",
                 "STOP", "START", "HELP", "DELETE"),
    "es": Person("es", "Quiero recibir alertas de audiencias y marchas en el Condado de Kern", "Sí",
                 "¿qué alertas tengo?", "cambia mi zona a Fresno", "no más alertas de movilización",
                 "PARAR", "COMENZAR", "AYUDA", "BORRAR"),
    "zh_Hans": Person("zh_Hans", "我想收到克恩县听证会和集会的提醒", "是", "我订阅了哪些提醒？",
                      "把我的地区改成弗雷斯诺", "不要再发动员提醒了", "退订", "开始", "帮助", "删除"),
    "zh_Hant": Person("zh_Hant", "我想收到克恩縣聽證會和集會的通知", "是", "我現在有訂閱哪些提醒？",
                      "把我的地區改成弗雷斯諾", "不要再傳動員提醒給我了", "退訂", "開始", "幫助", "刪除"),
    "vi": Person("vi", "cho tôi nhận thông báo về điều trần và biểu tình ở quận Kern", "CÓ",
                 "tôi đang nhận những thông báo nào?", "đổi khu vực của tôi sang Fresno",
                 "đừng gửi thông báo vận động nữa", "DỪNG", "BẮT ĐẦU", "GIÚP", "XÓA"),
    "tl": Person("tl", "gusto kong makatanggap ng alert tungkol sa pagdinig at rally sa Kern County",
                 "OO",
                 "anong alerts ang natatanggap ko?", "palitan ang area ko sa Fresno",
                 "ayoko na ng alert sa mobilisasyon", "TIGIL", "SIMULA", "TULONG", "BURAHIN"),
    "ko": Person("ko", "컨 카운티 공청회랑 집회 알림 받고 싶어요", "네", "제가 받는 알림이 뭐예요?",
                 "지역을 프레즈노로 바꿔주세요", "집회 알림 그만 보내주세요",
                 "중지", "시작", "도움말", "삭제"),
}
# Fictional numbers (555-01xx), one per language and channel.
PHONES = {
    ("en", "sms"): "+14155550125", ("en", "whatsapp"): "+14155550126",
    ("es", "sms"): "+13235550128", ("es", "whatsapp"): "+13235550129",
    ("zh_Hans", "sms"): "+16265550134", ("zh_Hans", "whatsapp"): "+16265550136",
    ("zh_Hant", "sms"): "+14155550139", ("zh_Hant", "whatsapp"): "+14155550140",
    ("vi", "sms"): "+17145550137", ("vi", "whatsapp"): "+17145550138",
    ("tl", "sms"): "+16505550146", ("tl", "whatsapp"): "+16505550147",
    ("ko", "sms"): "+12135550153", ("ko", "whatsapp"): "+12135550154",
}
EVERYONE = tuple(PHONES.values())
# Bodies sent here that the final privacy scan (test_text_line) looks for in every log.
BODIES = (PEOPLE["en"].subscribe, PEOPLE["ko"].subscribe)


@pytest.fixture(scope="module")
def core(text_line: TextLine) -> Iterator[Services]:
    services = Services(text_line.settings)
    yield services
    services.database.dispose()


def only(line: TextLine, body: str, phone: str, whatsapp: bool) -> str:
    delivery = line.text(body, phone, whatsapp=whatsapp)
    assert delivery.status == 200 and len(delivery.replies) == 1, (body, delivery.replies)
    return delivery.replies[0]


def plan(core: Services, phone: str) -> list[tuple[str, str, str, str]]:
    with core.database.session() as session:
        contact = find_contact(session, core.vault, phone)
        assert contact is not None
        rows = session.scalars(select(Subscription).where(Subscription.contact_id == contact.id)).all()
        return sorted((r.topic, r.jurisdiction_id, r.channel, r.language) for r in rows)


def consent(language: str, topics: str, place: str) -> str:
    names = {"en": "English", "es": "Español", "zh_Hans": "简体中文", "zh_Hant": "繁體中文",
             "vi": "Tiếng Việt", "tl": "Tagalog", "ko": "한국어"}
    return tr(language, CONSENT) % {"topics": topics, "place": place, "language": names[language]}


def topic_list(core: Services, language: str, *topics: str) -> str:
    from babel import Locale
    from babel.lists import format_list

    from puente.alerts.texts import TOPIC_NAMES
    locale = Locale.parse(core.languages.get(language).babel_locale)
    return format_list([tr(language, TOPIC_NAMES[t]) for t in topics], locale=locale)


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
@pytest.mark.parametrize("language", list(PEOPLE))
def test_alerts_with_consent_the_person_controls(
    text_line: TextLine, core: Services, language: str, channel: str
) -> None:
    person, phone, wa = PEOPLE[language], PHONES[(language, channel)], channel == "whatsapp"
    kern = {"en": "Kern County", "es": "Condado de Kern", "zh_Hans": "克恩县", "zh_Hant": "克恩縣",
            "vi": "Quận Kern", "tl": "County ng Kern", "ko": "컨 카운티"}[language]
    fresno = {"zh_Hans": "弗雷斯诺", "zh_Hant": "弗雷斯諾", "ko": "프레즈노"}.get(language, "Fresno")

    # Asked in their own words, with everything named: straight to the confirmation.
    assert only(text_line, person.subscribe, phone, wa) == consent(
        language, topic_list(core, language, "hearings", "mobilization"), kern)
    assert plan(core, phone) == []  # nothing before their YES
    assert only(text_line, person.yes, phone, wa) == tr(language, SIGNED_UP) % {
        "topics": topic_list(core, language, "hearings", "mobilization"), "place": kern}
    assert plan(core, phone) == [("hearings", "ca-kern-county", channel, language),
                                 ("mobilization", "ca-kern-county", channel, language)]
    with core.database.session() as session:
        contact = find_contact(session, core.vault, phone)
        assert contact is not None
        record = session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)).one()
        assert (record.channel, record.language, record.source) == (channel, language, "text")
        assert record.text == consent(language, topic_list(core, language, "hearings", "mobilization"), kern)

    listed = only(text_line, person.list_, phone, wa)
    assert kern in listed and topic_list(core, language, "hearings", "mobilization") in listed

    # Another place is new consent: stated, then confirmed.
    assert only(text_line, person.change_area, phone, wa) == consent(
        language, topic_list(core, language, "hearings", "mobilization"), fresno)
    only(text_line, person.yes, phone, wa)
    assert {j for _t, j, _c, _l in plan(core, phone)} == {"ca-fresno"}

    # Leaving a topic takes effect at once.
    left = only(text_line, person.leave, phone, wa)
    assert left.startswith(tr(language, "Done: no more %(topics)s alerts.") % {
        "topics": topic_list(core, language, "mobilization")})
    assert plan(core, phone) == [("hearings", "ca-fresno", channel, language)]

    # STOP: one confirmation in their language, then nothing; HELP and START still answer.
    assert only(text_line, person.stop, phone, wa) == tr(language, STOPPED)
    assert text_line.text(person.list_, phone, whatsapp=wa).replies == []
    assert only(text_line, person.help, phone, wa) == tr(language, HELP)
    assert only(text_line, person.start, phone, wa) == tr(language, WELCOME_BACK)
    assert plan(core, phone) == [("hearings", "ca-fresno", channel, language)]  # paused, then resumed

    # DELETE, confirmed by a second DELETE: everything about them goes, in both stores.
    with core.database.session() as session:
        contact = find_contact(session, core.vault, phone)
        assert contact is not None
        contact_id, pseudonym = contact.id, contact.pseudonym
        assert session.scalar(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": pseudonym})
        logged = session.scalars(
            select(InboundMessage.id).where(InboundMessage.contact_id == contact_id)).all()
        assert len(logged) >= 10
    assert only(text_line, person.delete, phone, wa) == tr(language, ASK_DELETE) % {"word": person.delete}
    assert only(text_line, person.delete, phone, wa) == tr(language, ERASED)
    with core.database.session() as session:
        assert find_contact(session, core.vault, phone) is None
        for model in (Subscription, ConsentRecord, OpenQuestion, ContactChannel):
            assert session.scalar(select(func.count()).select_from(model)
                                  .where(model.contact_id == contact_id)) == 0, model
        # Their message-log entries are gone, not merely unlinked.
        assert session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.id.in_(logged))) == 0
        assert session.get(Contact, contact_id) is None
        assert session.scalar(text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": pseudonym}) == 0
        assert session.scalar(select(func.count()).select_from(Suppression)
                              .where(Suppression.phone_hash == core.vault.phone_hash(phone))) == 1
