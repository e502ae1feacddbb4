"""Keywords (STOP, START, HELP, DELETE, YES, NO, MORE and each language's words), matched before Rasa.

Like Twilio, a keyword counts only when it is the whole message, in any case,
with surrounding spaces and punctuation ignored: "stop" and "STOP!" opt out,
"please don't stop" does not. Each language lists its words in
`locales/<code>/language.yml`; Twilio's own English words work for everyone.

Words that act on a person's data (the stop and erase words) must not catch ordinary
words. Typed with diacritics, they match only exactly as listed: "Dũng" (a name) is not
DỪNG. Typed without any, where the listed word has them ("dung", which is also "dùng",
to use), the match is `unsure`: Puente asks before acting. Other words ("si" for SÍ,
"co" for CÓ) match without their accents, as people type them.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from puente.i18n import BASE_LANGUAGE, CAREFUL_KINDS, LanguageRegistry, exact_form, fold

_PUNCTUATION = string.punctuation + "¡¿。！？，、…“”‘’«»"

#: The words Twilio's own opt-out handling answers itself, when it is on for a number.
TWILIO_WORDS = frozenset({
    "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
    "start", "unstop", "yes", "help", "info",
})


@dataclass(frozen=True)
class KeywordMatch:
    kind: str  # one of puente.i18n.KEYWORD_KINDS
    languages: tuple[str, ...]  # the languages whose lists hold the word ("停止": both Chinese)
    universal: bool  # English-only words: they say nothing of the sender's language
    #: Twilio answers this word itself when its opt-out handling is on.
    twilio: bool = False
    #: A stop or erase word typed without the diacritics it is listed with: ask before acting.
    unsure: bool = False
    #: The word as its language lists it ("DỪNG"), to say back when asking.
    spelled: str = ""

    def language_for(self, current: str) -> str:
        """The language this word was written in, staying with `current` when it fits."""
        return current if current in self.languages else self.languages[0]


def normalize(body: str) -> str:
    return fold(body).strip(_PUNCTUATION + " \t\r\n")


def match_keyword(body: str, languages: LanguageRegistry) -> KeywordMatch | None:
    """The keyword that `body` is, if it is one."""
    word = normalize(body)
    if not word or len(word) > 40:
        return None
    exact = exact_form(body).strip(_PUNCTUATION + " \t\r\n")
    found = languages.exact_keyword(exact)
    unsure = False
    if not found:
        found = languages.keyword(word)
        if found and found[0][0] in CAREFUL_KINDS:
            if exact != word:
                return None  # typed with other diacritics than the word has ("Dũng" is not DỪNG)
            unsure = True  # typed without the word's diacritics ("dung"): ask first
    if not found:
        return None
    kind = found[0][0]
    codes = tuple(code for k, code in found if k == kind)
    return KeywordMatch(
        kind, codes, universal=codes == (BASE_LANGUAGE,), twilio=word in TWILIO_WORDS, unsure=unsure,
        spelled=languages.spelled(word, kind, codes[0]),
    )
