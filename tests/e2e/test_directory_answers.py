"""End to end, through the webhook (real Rasa, real actions): questions about places, answered from
the sample directory in each language, by city, ZIP, school district, school and with a typo,
over one and two turns; long answers paged behind MORE; a second directory imported into the
running stack and answered at once, without a restart or retraining.

The expected texts come from the directory file (in the reader's language) and the catalogs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from puente.config import PROJECT_ROOT
from puente.directory.localize import localized
from puente.directory.replies import POLICY_KINDS, STATUSES
from puente.directory.schema import PolicyKind, PolicyStatus
from puente.messaging.segments import SMS_SEGMENT_BUDGET, segments
from tests.e2e.conftest import TextLine
from tests.e2e.texts import FALLBACK, tr

pytestmark = pytest.mark.e2e

SAMPLE = yaml.safe_load((PROJECT_ROOT / "data" / "directory.yaml").read_text(encoding="utf-8"))
OTHER = PROJECT_ROOT / "tests" / "fixtures" / "directory-other.yaml"
MORE_PROMPT = "Reply MORE for the rest."
WHICH_PLACE = "Which city, county, school district or ZIP code do you mean?"
NO_RECORD_OF_KIND = "I have no record of a %(kind)s in %(place)s."
MORE_WORD = {"en": "MORE", "es": "MÁS", "zh_Hans": "更多", "zh_Hant": "更多", "vi": "THÊM", "tl": "HIGIT PA",
             "ko": "더보기"}

# Fictional numbers (555-01xx), one per person here.
PEOPLE = {
    "en": "+14155550191", "es": "+13235550192", "zh_Hans": "+16265550113", "zh_Hant": "+14155550114",
    "vi": "+17145550115", "tl": "+16505550116", "ko": "+12135550117",
}
OTHERS = ("+15595550118", "+12095550119", "+17075550120", "+16615550121", "+19165550122", "+15105550194")
EVERYONE = (*PEOPLE.values(), *OTHERS)
# Bodies sent here that the final scan (test_text_line) looks for in every log.
BODIES = ("is santa ana a sanctuary city?", "圣罗莎是庇护城市吗?", "컨 카운티 공청회 언제 있어요?")


def record(section: str, record_id: str, data: dict[str, Any] = SAMPLE) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in data[section] if r["id"] == record_id)
    return found


def summary(policy_id: str, language: str) -> str:
    return localized(record("policies", policy_id)["summary"], language)


def ask(line: TextLine, body: str, sender: str, language: str, *, whatsapp: bool = False) -> str:
    """The whole answer to `body`: the first reply, then MORE (in `language`) until nothing is left."""
    delivery = line.text(body, sender, whatsapp=whatsapp)
    assert delivery.status == 200 and delivery.replies, body
    prompt = tr(language, MORE_PROMPT)
    pages = ["\n".join(delivery.replies)]
    while pages[-1].endswith(prompt) and len(pages) < 20:
        if not whatsapp:
            assert segments(pages[-1]) <= SMS_SEGMENT_BUDGET, pages[-1]
        more = line.text(MORE_WORD[language], sender, whatsapp=whatsapp)
        assert more.status == 200 and len(more.replies) == 1
        pages.append(more.replies[0])
    # Pages are cut between sentences or words: the whole answer, with its spacing folded.
    return " ".join(" ".join(page.removesuffix(prompt).split()) for page in pages)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module", autouse=True)
def sample_directory(text_line: TextLine) -> None:
    """The stack answers from the sample directory (the e2e stack loads it)."""


def test_a_sanctuary_question_in_english_names_the_policy_its_source_and_date(text_line: TextLine) -> None:
    answer = ask(text_line, "is santa ana a sanctuary city?", PEOPLE["en"], "en")
    policy = record("policies", "policy-santa-ana-sanctuary-resolution")
    assert policy["title"] in answer
    assert flat(summary(policy["id"], "en")) in answer
    assert policy["source_url"] in answer and "verified Nov 28, 2026" in answer


def test_spanish_by_city_in_spanish_with_the_directory_text_in_spanish(text_line: TextLine) -> None:
    answer = ask(text_line, "¿Santa Ana es ciudad santuario?", PEOPLE["es"], "es")
    assert flat(summary("policy-santa-ana-sanctuary-resolution", "es")) in answer
    assert tr("es", STATUSES[PolicyStatus.ADOPTED]) in answer


def test_chinese_in_both_scripts_a_place_with_no_record_of_that_kind(text_line: TextLine) -> None:
    # Santa Rosa has an ordinance in the sample, but no sanctuary resolution: said so, never "none".
    simplified = ask(text_line, "圣罗莎是庇护城市吗?", PEOPLE["zh_Hans"], "zh_Hans")
    kind = tr("zh_Hans", POLICY_KINDS[PolicyKind.SANCTUARY_RESOLUTION])
    assert tr("zh_Hans", NO_RECORD_OF_KIND) % {"kind": kind, "place": "圣罗莎"} in simplified
    assert flat(summary("policy-santa-rosa-city-property-ordinance", "zh_Hans")) in simplified
    traditional = ask(text_line, "聖羅莎是庇護城市嗎?", PEOPLE["zh_Hant"], "zh_Hant")
    assert flat(summary("policy-santa-rosa-city-property-ordinance", "zh_Hant")) in traditional
    assert summary("policy-santa-rosa-city-property-ordinance", "zh_Hant") != summary(
        "policy-santa-rosa-city-property-ordinance", "zh_Hans")  # converted to Traditional


def test_a_clinic_by_zip_over_two_turns_in_vietnamese(text_line: TextLine) -> None:
    first = text_line.text("trường con tôi có phòng khám pháp lý không?", PEOPLE["vi"])
    assert first.replies == [tr("vi", WHICH_PLACE)]
    answer = ask(text_line, "95407", PEOPLE["vi"], "vi")
    clinic = record("legal_clinics", "clinic-santa-rosa-elsie-allen-sample")
    assert clinic["name"] in answer and flat(localized(clinic["schedule"], "vi")) in answer


def test_the_coalition_in_tagalog(text_line: TextLine) -> None:
    answer = ask(text_line, "sino po ang coalition sa Bakersfield?", PEOPLE["tl"], "tl")
    coalition = record("coalitions", "coalition-kern-sample")
    assert coalition["name"] in answer and flat(localized(coalition["description"], "tl")) in answer


def test_hearings_in_korean(text_line: TextLine) -> None:
    answer = ask(text_line, "컨 카운티 공청회 언제 있어요?", PEOPLE["ko"], "ko")
    hearing = record("hearings", "hearing-kern-bos-sample")
    assert flat(localized(hearing["title"], "ko")) in answer and hearing["body"] in answer


def test_a_typo_a_school_district_and_a_school(text_line: TextLine) -> None:
    sender = OTHERS[0]
    modesto = ask(text_line, "legal clinic in modesta schools?", sender, "en")
    assert record("legal_clinics", "clinic-modesto-high-sample")["name"] in modesto
    fresno = ask(text_line, "is there a legal clinic in fresno unified?", sender, "en")
    assert record("legal_clinics", "clinic-fresno-roosevelt-sample")["name"] in fresno
    school = ask(text_line, "is there a legal clinic at Castlemont High?", sender, "en")
    assert record("legal_clinics", "clinic-oakland-castlemont-sample")["name"] in school


def test_a_follow_up_names_only_another_place(text_line: TextLine) -> None:
    sender = OTHERS[1]
    ask(text_line, "who is the immigrant rights coalition in fresno?", sender, "en")
    answer = ask(text_line, "what about Santa Rosa?", sender, "en")
    assert record("coalitions", "coalition-sonoma-sample")["name"] in answer


def test_more_works_in_every_language(text_line: TextLine) -> None:
    questions = {
        "en": "what strategies work for my area", "es": "qué estrategias sirven para mi zona",
        "zh_Hans": "我们这里应该用什么策略", "zh_Hant": "我哋呢度應該用咩策略",
        "vi": "chiến lược nào phù hợp với khu vực của tôi",
        "tl": "anong mga estratehiya ang bagay sa lugar namin", "ko": "우리 지역에 맞는 전략이 뭐예요",
    }
    for language, sender in PEOPLE.items():
        first = text_line.text(questions[language], sender)
        assert first.replies, language
        assert first.replies[-1].endswith(tr(language, MORE_PROMPT)), (language, first.replies)
        assert segments(first.replies[-1]) <= SMS_SEGMENT_BUDGET
        rest = text_line.text(MORE_WORD[language], sender)
        assert len(rest.replies) == 1 and rest.replies != first.replies, language
        assert rest.replies[0] != tr(language, FALLBACK), language


def test_whatsapp_takes_a_long_answer_in_one_message(text_line: TextLine) -> None:
    delivery = text_line.text("what strategies work for my area", OTHERS[2], whatsapp=True)
    assert len(delivery.replies) == 1 and not delivery.replies[0].endswith(tr("en", MORE_PROMPT))
    assert segments(delivery.replies[0]) > SMS_SEGMENT_BUDGET  # over SMS, it would have been paged


def test_enforcement_now_gives_the_rapid_response_line(text_line: TextLine) -> None:
    sender = OTHERS[3]
    ask(text_line, "is there a legal clinic in Bakersfield?", sender, "en")  # the area is now Kern
    answer = ask(text_line, "ICE is outside my house right now", sender, "en")
    assert record("coalitions", "coalition-kern-sample")["rapid_response_phone"] in answer
    assert "911" in answer


def test_a_second_directory_answers_without_restart_or_retraining(text_line: TextLine) -> None:
    other = yaml.safe_load(OTHER.read_text(encoding="utf-8"))
    env = {**os.environ, "DATABASE_URL": text_line.settings.database_url,
           "PUENTE_SECRET_KEY": text_line.settings.secret_key, "PUENTE_ENV_FILE": os.devnull}
    puente = str(Path(sys.executable).parent / "puente")
    imported = subprocess.run([puente, "directory", "import", str(OTHER)],
                              env=env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    imported_at = time.monotonic()
    policy = record("policies", "policy-test-merced-welcoming", other)
    answer = ""
    while time.monotonic() - imported_at < 5 and policy["title"] not in answer:
        answer = ask(text_line, "is Merced a sanctuary city?", OTHERS[4], "en")
    assert policy["title"] in answer, answer  # asked again and again, answered within 5 s


def test_the_answer_follows_the_person_not_the_script_of_the_place(text_line: TextLine) -> None:
    answer = ask(text_line, "Fresno有没有法律诊所?", OTHERS[5], "zh_Hans")
    assert tr("zh_Hans", "School legal clinics for %(place)s:") % {"place": "弗雷斯诺"} in answer
