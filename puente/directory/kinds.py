"""Which kind of policy a question asks about, from words people use in each language.

"Is Santa Ana a sanctuary city?" asks about sanctuary resolutions; "does the sheriff
work with ICE?" about law-enforcement policy. No kind word: every kind. The words are
each language's `policy_kinds:` in `locales/<code>/language.yml`, all languages' together.
"""

from __future__ import annotations

from functools import lru_cache

from puente.directory.places import fold
from puente.directory.schema import PolicyKind
from puente.i18n import LanguageRegistry


@lru_cache(maxsize=8)
def words_for(languages: LanguageRegistry) -> dict[PolicyKind, frozenset[str]]:
    """The words and phrases (folded) that point to each kind, in the order of `PolicyKind`.

    Han and Hangul are matched inside words; the rest as whole words. Raises ValueError
    when a language.yml names a kind that is no `PolicyKind`.
    """
    known = {str(kind) for kind in PolicyKind}
    unknown = set(languages.policy_words) - known
    if unknown:
        raise ValueError(f"{languages.locales_dir}: unknown policy kinds {sorted(unknown)} in policy_kinds")
    return {kind: languages.policy_words[kind] for kind in PolicyKind if kind in languages.policy_words}


def _is_wide(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)


def kinds_asked(text: str, languages: LanguageRegistry) -> list[PolicyKind]:
    """The policy kinds a question names, in the order of `PolicyKind`; [] for "any kind"."""
    folded = f" {fold(text)} "
    return [
        kind for kind, words in words_for(languages).items()
        if any((word in folded) if _is_wide(word) else (f" {word} " in folded) for word in words)
    ]
