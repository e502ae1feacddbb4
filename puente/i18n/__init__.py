"""Languages and translated texts.

A language is a folder under `locales/`: `language.yml` (its name, the names
people use for it, its compliance keywords, its words for alert topics, policy kinds
and what may stand beside a place name) and `LC_MESSAGES/messages.po` (its
catalog, compiled to `.mo` by `make i18n`). Adding a language adds a folder and
its NLU data; no code changes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from babel.support import Translations

from puente.config import PROJECT_ROOT

DOMAIN = "messages"
BASE_LANGUAGE = "en"
KEYWORD_KINDS = ("stop", "start", "help", "delete", "yes", "no", "more")
#: Kinds whose words act on a person's data: typed without their diacritics, they are asked about.
CAREFUL_KINDS = frozenset({"stop", "delete"})


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name
    """Marks a text for the catalogs where it is defined; it is translated where it is used."""
    return message


class CatalogMissing(RuntimeError):
    """A compiled catalog is missing: the fix is `make i18n`."""


@dataclass(frozen=True)
class Language:
    """One supported language, as described by `locales/<code>/language.yml`."""

    code: str  # folder name and catalog name, e.g. "zh_Hant"
    name: str  # its own name for itself, shown in the language menu
    babel_locale: str  # for Babel's date and number formatting
    aliases: tuple[str, ...] = ()  # what people call it, in any language
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Words that name an alert topic in a message, by topic ("all": every topic).
    topics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Words that name a kind of policy in a question, by PolicyKind value (checked where they are used).
    policy_kinds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Words that may stand beside a place name in a message that only names a place.
    place_fillers: tuple[str, ...] = ()


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for matching words people type.

    Accents are removed from Latin letters only: "Español" and "espanol" match,
    while Vietnamese and Korean text keep what makes them distinct.
    """
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def exact_form(text: str) -> str:
    """Case-insensitive, but every diacritic kept: "DỪNG" and "dừng" match, "dung" and "Dũng" do not."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).casefold().strip())


class LanguageRegistry:
    """The supported languages, read from a `locales/` folder."""

    def __init__(self, languages: Iterable[Language], locales_dir: Path) -> None:
        self._by_code = {lang.code: lang for lang in languages}
        self.locales_dir = locales_dir
        if BASE_LANGUAGE not in self._by_code:
            raise ValueError(f"{locales_dir} has no {BASE_LANGUAGE}/language.yml")
        # Folded once here, so matching a message is lookups, not re-folding every word.
        self._keywords: dict[str, list[tuple[str, str]]] = {}
        self._exact: dict[str, list[tuple[str, str]]] = {}
        self._spelled: dict[tuple[str, str, str], str] = {}
        self._names: dict[str, set[str]] = {}
        for lang in self:
            for kind, words in lang.keywords.items():
                for word in words:
                    self._keywords.setdefault(fold(word), []).append((kind, lang.code))
                    self._exact.setdefault(exact_form(word), []).append((kind, lang.code))
                    self._spelled.setdefault((fold(word), kind, lang.code), word)
            self._names[lang.code] = {fold(n) for n in (lang.name, *lang.aliases)}
        self._topic_words: dict[str, set[str]] = {}
        for lang in self:
            for topic, words in lang.topics.items():
                self._topic_words.setdefault(topic, set()).update(fold(w) for w in words)
        # Every language's words, together: a Spanish speaker may type "sanctuary".
        policy_words: dict[str, set[str]] = {}
        for lang in self:
            for kind, words in lang.policy_kinds.items():
                policy_words.setdefault(kind, set()).update(fold(w) for w in words)
        self.policy_words: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in policy_words.items()}
        self.place_fillers: frozenset[str] = frozenset(fold(w) for lang in self for w in lang.place_fillers)

    @classmethod
    def load(cls, locales_dir: Path) -> LanguageRegistry:
        languages = []
        for path in sorted(locales_dir.glob("*/language.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            code = path.parent.name
            if data.get("code") != code:
                raise ValueError(f"{path}: code must be {code!r}, the folder's name")
            keywords = data.get("keywords") or {}
            unknown = set(keywords) - set(KEYWORD_KINDS)
            if unknown:
                raise ValueError(f"{path}: unknown keyword kinds {sorted(unknown)}")
            languages.append(
                Language(
                    code=code,
                    name=str(data["name"]),
                    babel_locale=str(data.get("babel_locale", code)),
                    aliases=tuple(str(a) for a in data.get("aliases") or ()),
                    keywords={k: tuple(str(w) for w in v) for k, v in keywords.items()},
                    topics={k: tuple(str(w) for w in v) for k, v in (data.get("topics") or {}).items()},
                    policy_kinds={
                        str(k): tuple(str(w) for w in v) for k, v in (data.get("policy_kinds") or {}).items()
                    },
                    place_fillers=tuple(str(w) for w in data.get("place_fillers") or ()),
                )
            )
        # English first, then the rest in folder order: the order of the language menu.
        languages.sort(key=lambda lang: (lang.code != BASE_LANGUAGE, lang.code))
        return cls(languages, locales_dir)

    def __iter__(self) -> Iterator[Language]:
        return iter(self._by_code.values())

    @property
    def codes(self) -> list[str]:
        return list(self._by_code)

    def get(self, code: str | None) -> Language:
        """The language for `code`, or the base language when it is unknown."""
        return self._by_code.get(code or "", self._by_code[BASE_LANGUAGE])

    def keyword(self, folded_word: str) -> list[tuple[str, str]]:
        """[(kind, language code)] for a folded keyword, in menu order; [] if it is none."""
        return self._keywords.get(folded_word, [])

    def exact_keyword(self, word: str) -> list[tuple[str, str]]:
        """[(kind, language code)] for a keyword as written, diacritics and all (see `exact_form`)."""
        return self._exact.get(word, [])

    def spelled(self, folded_word: str, kind: str, code: str) -> str:
        """How `code`'s list writes the keyword that folds to `folded_word` ("dung" → "DỪNG")."""
        return self._spelled.get((folded_word, kind, code), folded_word.upper())

    def menu(self) -> str:
        """Every language by its own name, for "which language?"."""
        return ", ".join(lang.name for lang in self)

    def translations(self, code: str | None) -> Translations:
        return _load_translations(self.locales_dir, self.get(code).code)

    def gettext(self, code: str | None, message: str) -> str:
        return self.translations(code).gettext(message)

    def find_topics(self, text: str) -> set[str]:
        """The alert topics named in `text`, by any language's words ("all" when it asks for all)."""
        folded = fold(text)
        return {topic for topic, words in self._topic_words.items()
                if any(_find_word(folded, word) >= 0 for word in words)}

    def without_topics(self, folded: str) -> str:
        """`folded` text with every alert-topic word taken out (what else does the message say?)."""
        words = sorted({w for ws in self._topic_words.values() for w in ws}, key=len, reverse=True)
        for word in words:
            end = _find_word(folded, word)
            while end >= 0:
                folded = folded[: end - len(word)] + " " + folded[end:]
                end = _find_word(folded, word)
        return folded

    def find_named(self, text: str) -> dict[str, int]:
        """The languages named in `text`, each with where its name last ends."""
        folded = fold(text)
        found: dict[str, int] = {}
        for code, names in self._names.items():
            position = max(_find_word(folded, name) for name in names)
            if position >= 0:
                found[code] = position
        return found


def _find_word(haystack: str, needle: str) -> int:
    """End position of the last occurrence of `needle` as a whole word, or -1.

    Scripts written without spaces (Chinese) match anywhere; Korean words may
    carry a particle ("한국어로"); other words must not be glued to letters on
    either side ("ingles" must not match "ingleses").
    """
    if not needle:
        return -1
    start = len(haystack)
    while True:
        index = haystack.rfind(needle, 0, start)
        if index < 0:
            return -1
        end = index + len(needle)
        before = haystack[index - 1] if index > 0 else " "
        after = haystack[end] if end < len(haystack) else " "
        if _is_cjk(needle[0]) or (
            not before.isalnum() and (not after.isalnum() or _is_hangul(needle[-1]))
        ):
            return end
        start = index + len(needle) - 1
        if start <= 0:
            return -1


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


@lru_cache(maxsize=64)
def _load_translations(locales_dir: Path, code: str) -> Translations:
    path = locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.is_file():
        raise CatalogMissing(f"{path} is missing: run `make i18n` to compile the catalogs")
    with path.open("rb") as fp:
        return Translations(fp, domain=DOMAIN)


@lru_cache(maxsize=8)
def registry(locales_dir: Path = PROJECT_ROOT / "locales") -> LanguageRegistry:
    """The languages in `locales_dir`, read once per process."""
    return LanguageRegistry.load(locales_dir)
