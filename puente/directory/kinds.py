"""Which kind of policy a question asks about, from words people use in each language.

"Is Santa Ana a sanctuary city?" asks about sanctuary resolutions; "does the sheriff
work with ICE?" about law-enforcement policy. No kind word: every kind.
"""

from __future__ import annotations

from puente.directory.places import fold
from puente.directory.schema import PolicyKind

#: The words and phrases (folded) that point to each kind. Han and Hangul are matched inside
#: words; the rest as whole words. "Sanctuary city" questions mean welcoming resolutions too.
WORDS_FOR: dict[PolicyKind, tuple[str, ...]] = {
    PolicyKind.SANCTUARY_RESOLUTION: (
        "sanctuary", "santuary", "santuario", "santuwaryo", "tru an", "bao ho", "庇护", "庇護",
        "保护城市", "保護城市", "피난처", "보호도시", "보호 도시", "생추어리",
    ),
    PolicyKind.WELCOMING_RESOLUTION: (
        "welcoming", "welcome city", "bienvenida", "acogedora", "malugod", "chao don", "欢迎", "歡迎",
        "友好", "환영",
        # asked as "is X a sanctuary city?"
        "sanctuary", "santuario", "santuwaryo", "庇护", "庇護",
    ),
    PolicyKind.SAFE_SPACE_RESOLUTION: (
        "safe space", "safe haven", "espacio seguro", "refugio seguro", "school board", "junta escolar",
        "ligtas na lugar", "khong gian an toan", "安全空间", "安全空間", "安全避风港", "安全避風港",
        "안전 공간", "안전공간",
    ),
    PolicyKind.LAW_ENFORCEMENT_POLICY: (
        "sheriff", "sherif", "police", "policia", "alguacil", "pulis", "sb 54", "sb54", "values act",
        "jail", "carcel", "canh sat", "警察", "警长", "警長", "监狱", "監獄", "경찰", "보안관",
    ),
    PolicyKind.OFFICE_OF_IMMIGRANT_AFFAIRS: (
        "office of immigrant", "immigrant affairs", "oficina de asuntos", "asuntos de inmigrantes",
        "van phong", "移民事务", "移民事務", "이민자 사무",
    ),
    PolicyKind.INTEGRATION_PLAN: ("integration plan", "plan de integracion", "融入计划", "融入計劃"),
    PolicyKind.SANCTUARY_WORKPLACE: (
        "workplace", "e verify", "everify", "lugar de trabajo", "工作场所", "工作場所", "직장",
    ),
}


def _is_wide(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)


def kinds_asked(text: str) -> list[PolicyKind]:
    """The policy kinds a question names, in the order of `PolicyKind`; [] for "any kind"."""
    folded = f" {fold(text)} "
    return [
        kind for kind, words in WORDS_FOR.items()
        if any((word in folded) if _is_wide(word) else (f" {word} " in folded) for word in words)
    ]
