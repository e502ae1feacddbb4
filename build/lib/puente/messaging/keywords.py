"""Compliance keywords (STOP, START, HELP and their synonyms), matched before Rasa.

Like Twilio, a keyword counts only when it is the whole message, in any case,
with surrounding spaces and punctuation ignored: "stop" and "STOP!" opt out,
"please don't stop" does not. Each language lists its words in
`locales/<code>/language.yml`; Twilio's own English words work for everyone.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from puente.i18n import BASE_LANGUAGE, LanguageRegistry, fold

_PUNCTUATION = string.punctuation + "¡¿。！？，、…“”‘’«»"


@dataclass(frozen=True)
class KeywordMatch:
    kind: str  # stop, start, help, start_if_opted_out
    languages: tuple[str, ...]  # the languages whose lists hold the word ("停止": both Chinese)
    universal: bool  # Twilio's English words: they say nothing of the sender's language

    def language_for(self, current: str) -> str:
        """The language this word was written in, staying with `current` when it fits."""
        return current if current in self.languages else self.languages[0]


def normalize(body: str) -> str:
    return fold(body).strip(_PUNCTUATION + " \t\r\n")


def match_keyword(body: str, languages: LanguageRegistry) -> KeywordMatch | None:
    """The compliance keyword that `body` is, if it is one."""
    word = normalize(body)
    if not word or len(word) > 40:
        return None
    found = languages.keyword(word)
    if not found:
        return None
    kind = found[0][0]
    codes = tuple(code for k, code in found if k == kind)
    return KeywordMatch(kind, codes, universal=codes == (BASE_LANGUAGE,))
