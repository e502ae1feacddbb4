"""Words that are data in each `locales/<code>/language.yml`: the kinds of policy a question
names (`policy_kinds`) and what may stand beside a place name (`place_fillers`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.conversation import _for_rasa
from puente.directory.kinds import kinds_asked, words_for
from puente.directory.places import PlaceIndex
from puente.directory.schema import PolicyKind
from puente.i18n import LanguageRegistry, registry

FIXTURE = Path(__file__).parent.parent / "fixtures" / "places.yaml"
#: Korean words do not match yet: places.fold decomposes Hangul syllables into jamo (NFKD),
#: while the words in language.yml stay composed.
SANCTUARY, WELCOMING, SAFE_SPACE, LAW, OFFICE, PLAN, WORKPLACE = (
    PolicyKind.SANCTUARY_RESOLUTION, PolicyKind.WELCOMING_RESOLUTION, PolicyKind.SAFE_SPACE_RESOLUTION,
    PolicyKind.LAW_ENFORCEMENT_POLICY, PolicyKind.OFFICE_OF_IMMIGRANT_AFFAIRS, PolicyKind.INTEGRATION_PLAN,
    PolicyKind.SANCTUARY_WORKPLACE,
)


@pytest.mark.parametrize("code", registry().codes)
def test_every_language_has_policy_kind_words_and_place_fillers(code: str) -> None:
    language = registry().get(code)
    assert language.code == code
    assert language.policy_kinds and all(language.policy_kinds.values()), code
    assert set(language.policy_kinds) <= {str(kind) for kind in PolicyKind}, code
    assert language.place_fillers, code


def test_every_kind_but_other_has_words() -> None:
    assert list(words_for(registry())) == [kind for kind in PolicyKind if kind is not PolicyKind.OTHER]


def test_a_kind_that_is_no_policy_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "language.yml").write_text(
        "code: en\nname: English\npolicy_kinds:\n  sanctuary_city: [sanctuary]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="sanctuary_city"):
        words_for(LanguageRegistry.load(tmp_path))


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("is Santa Ana a sanctuary city?", [SANCTUARY, WELCOMING]),
        ("¿Santa Ana es ciudad santuario?", [SANCTUARY, WELCOMING]),
        ("¿Santa Ana es una ciudad sanctuary?", [SANCTUARY, WELCOMING]),  # any language's words
        ("圣罗莎是庇护城市吗?", [SANCTUARY, WELCOMING]),
        ("聖羅莎是庇護城市嗎", [SANCTUARY, WELCOMING]),
        ("Merced có phải thành phố trú ẩn không?", [SANCTUARY]),
        ("is Fresno a welcoming city?", [WELCOMING]),
        ("is the school board a safe space", [SAFE_SPACE]),
        ("does the sheriff work with ICE?", [LAW]),
        ("SB-54 in Fresno", [LAW]),
        ("mayroon bang pulis", [LAW]),
        ("chính sách cảnh sát", [LAW]),
        ("警长和ICE合作吗", [LAW]),
        ("is there an office of immigrant affairs in LA", [OFFICE]),
        ("plan de integración de Modesto", [PLAN]),
        ("what about E-Verify", [WORKPLACE]),
        ("hearings in Kern", []),
        ("santuarios en Kern", []),  # whole words only, outside Han and Hangul
        ("policies in kern", []),
    ],
)
def test_the_kinds_a_question_names(question: str, kinds: list[PolicyKind]) -> None:
    assert kinds_asked(question, registry()) == kinds


def test_korean_policy_words() -> None:
    assert kinds_asked("산타로사는 피난처 도시인가요?", registry()) == [SANCTUARY]


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        ("I live in Modesto", '/inform_place{"area": "ca-modesto"}'),
        ("what about Fresno?", '/inform_place{"area": "ca-fresno"}'),
        ("vivo en Modesto", '/inform_place{"area": "ca-modesto"}'),
        ("taga Modesto po ako", '/inform_place{"area": "ca-modesto"}'),
        ("tôi sống ở Modesto", '/inform_place{"area": "ca-modesto"}'),
        ("còn Modesto?", '/inform_place{"area": "ca-modesto"}'),
        ("我住在圣罗莎", '/inform_place{"area": "ca-santa-rosa"}'),
        ("我喺聖羅莎", '/inform_place{"area": "ca-santa-rosa"}'),
        ("Kern ICE", "Kern ICE"),
        ("圣罗莎诊所", "圣罗莎诊所"),
    ],
)
def test_a_message_that_only_names_a_place(index: PlaceIndex, body: str, sent: str) -> None:
    assert _for_rasa(index, registry().place_fillers, body) == sent


def test_korean_place_fillers(index: PlaceIndex) -> None:
    sent = _for_rasa(index, registry().place_fillers, "산타로사 살아요")
    assert sent == '/inform_place{"area": "ca-santa-rosa"}'
