"""Which language is a text message written in?

A small naive Bayes classifier over character n-grams, trained at start-up on
the NLU examples in `nlu_data/nlu/<code>/`: the same data that teaches Rasa a
language teaches the detector, so adding a language needs no code. Character
n-grams work for every script: they see "hola" in "holaa".

Before the classifier, what the examples show to be decisive decides:
- a writing system only one language uses (Hangul for Korean) settles it, and one
  that several share (Han for both Chinese scripts) narrows it to them, so a Latin
  term inside a Korean or Chinese question ("sanctuary city 인가요?") does not sway it;
- a letter only one language's examples use (Vietnamese "ạ", "ở", "đ") settles it;
- between the two Chinese scripts, the characters that differ (OpenCC) settle it;
- a message that is word for word one of the examples ("hi", "ok") is that example's language.
Callers pass the text with its place names masked too (`PlaceIndex.mask`): "Fresno"
says nothing of the writer's language.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from puente.i18n import fold
from puente.i18n.scripts import convert

#: A letter must appear this often in one language's examples, and never in another's, to decide.
EXCLUSIVE_MIN_COUNT = 2
#: The two Chinese scripts, told apart by the characters that differ between them.
CHINESE_SCRIPTS = {"zh_Hans": "s2t", "zh_Hant": "t2s"}


def writing_system(ch: str) -> str | None:
    """The Unicode writing system of a non-ASCII letter ("HANGUL", "CJK", "LATIN"…), or None."""
    if ch.isascii() or not ch.isalpha():
        return None
    try:
        return unicodedata.name(ch).split()[0]
    except ValueError:
        return None

NGRAM_SIZES = (1, 2, 3)
SMOOTHING = 0.5


@dataclass(frozen=True)
class Guess:
    language: str
    confidence: float  # posterior probability of `language`, 0..1
    runner_up: float = 0.0  # posterior of the next likeliest language

    @property
    def top_two(self) -> float:
        """How sure it is that the text is one of its two best guesses.

        High while `confidence` is low means two close variants (Simplified and
        Traditional Chinese for "你好"): the best guess is still a fair answer.
        """
        return self.confidence + self.runner_up


def ngrams(text: str) -> list[str]:
    """Character 1-3-grams of the folded text, plus each whole word (short texts lean on words)."""
    words = fold(text).split()
    padded = f" {' '.join(words)} "
    grams = [padded[i : i + n] for n in NGRAM_SIZES for i in range(len(padded) - n + 1)]
    return grams + [f"<{word}>" for word in words]


class LanguageDetector:
    """Naive Bayes over character 1-3-grams, one class per language."""

    def __init__(self, examples: Mapping[str, Iterable[str]]) -> None:
        self._counts: dict[str, Counter[str]] = {}
        # Whole examples, folded: a short greeting seen in one language's examples ("hi") is
        # that language's, whatever its letters look like.
        self._seen: dict[str, Counter[str]] = {}
        letters: dict[str, Counter[str]] = {}
        for code, texts in examples.items():
            counts: Counter[str] = Counter()
            letters[code] = Counter()
            for text in texts:
                counts.update(ngrams(text))
                self._seen.setdefault(_words_only(text), Counter())[code] += 1
                letters[code].update(ch for ch in unicodedata.normalize("NFC", text.casefold())
                                     if writing_system(ch))
            if counts:
                self._counts[code] = counts
        # Which languages write in each non-Latin system, and which letters belong to one language.
        self._systems: dict[str, set[str]] = {}
        owners: dict[str, set[str]] = {}
        for code, counted in letters.items():
            for ch in counted:
                owners.setdefault(ch, set()).add(code)
                system = writing_system(ch)
                if system and system != "LATIN":
                    self._systems.setdefault(system, set()).add(code)
        self._exclusive = {
            ch: next(iter(codes)) for ch, codes in owners.items()
            if len(codes) == 1 and letters[next(iter(codes))][ch] >= EXCLUSIVE_MIN_COUNT
        }
        if not self._counts:
            raise ValueError("no examples to learn languages from")
        vocabulary = set().union(*self._counts.values())
        # Log-probabilities computed once: detection is then a sum of lookups.
        self._log_p: dict[str, dict[str, float]] = {}
        self._log_unseen: dict[str, float] = {}
        for code, c in self._counts.items():
            denominator = sum(c.values()) + SMOOTHING * (len(vocabulary) + 1)
            self._log_p[code] = {g: math.log((n + SMOOTHING) / denominator) for g, n in c.items()}
            self._log_unseen[code] = math.log(SMOOTHING / denominator)

    @property
    def languages(self) -> list[str]:
        return list(self._counts)

    def _candidates(self, text: str) -> set[str]:
        """The languages the writing systems and letters of `text` leave possible."""
        candidates = set(self._log_p)
        raw = unicodedata.normalize("NFC", text.casefold())
        for system in {writing_system(ch) for ch in raw} - {None, "LATIN"}:
            narrowed = candidates & self._systems.get(system or "", set())
            if narrowed:
                candidates = narrowed
        owned = {self._exclusive[ch] for ch in raw if ch in self._exclusive} & candidates
        if len(owned) == 1:
            return owned
        han = [code for code in CHINESE_SCRIPTS if code in candidates]
        if len(han) == 2 and len(candidates) == 2:
            differs = [code for code in han if convert(text, CHINESE_SCRIPTS[code]) != text]
            if len(differs) == 1:
                return set(differs)
        return candidates

    def detect(self, text: str, masked: str | None = None, rules: bool = True) -> Guess | None:
        """The likeliest language and its posterior; None for text with no letters.

        `masked` is `text` without its place names: the classifier reads that, while the
        writing systems and letters are read from the whole text ("我住聖荷西" is Traditional
        by its place name alone). `rules=False` leaves the classifier alone (for comparison).
        """
        if masked is not None and any(ch.isalpha() for ch in masked):
            grams = [g for g in ngrams(masked) if any(ch.isalpha() for ch in g)]
        else:
            grams = [g for g in ngrams(text) if any(ch.isalpha() for ch in g)]
        if not grams:
            return None
        candidates = self._candidates(text) if rules else set(self._log_p)
        if len(candidates) == 1:
            return Guess(next(iter(candidates)), 1.0, 0.0)
        seen = self._seen.get(_words_only(text), Counter()) if rules else Counter()
        seen_here = {code: n for code, n in seen.items() if code in candidates}
        if seen_here:
            ranked_seen = sorted(seen_here.values(), reverse=True)
            total_seen = sum(ranked_seen)
            best = max(seen_here, key=lambda code: seen_here[code])
            runner = ranked_seen[1] / total_seen if len(ranked_seen) > 1 else 0.0
            return Guess(best, ranked_seen[0] / total_seen, runner)
        scores = {
            code: sum(log_p.get(g, self._log_unseen[code]) for g in grams)
            for code, log_p in self._log_p.items() if code in candidates
        }
        ranked = sorted(scores, key=lambda code: scores[code], reverse=True)
        top = scores[ranked[0]]
        total = sum(math.exp(s - top) for s in scores.values())
        runner_up = math.exp(scores[ranked[1]] - top) / total if len(ranked) > 1 else 0.0
        return Guess(ranked[0], 1.0 / total, runner_up)


def _words_only(text: str) -> str:
    """`text` folded, without punctuation or emoji: "hi!" and "hi 😊" are the example "hi"."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in fold(text)).split())


def read_nlu_examples(nlu_dir: Path, pattern: str = "*.yml") -> dict[str, list[str]]:
    """Training examples per language from `nlu_dir/<code>/*.yml` (Rasa's format)."""
    examples: dict[str, list[str]] = {}
    for folder in sorted(p for p in nlu_dir.iterdir() if p.is_dir()):
        texts = examples.setdefault(folder.name, [])
        for path in sorted(folder.glob(pattern)):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for item in data.get("nlu") or []:
                block = item.get("examples") or ""
                texts.extend(
                    line[2:].strip() for line in block.splitlines() if line.startswith("- ")
                )
    return examples


@lru_cache(maxsize=4)
def detector_for(nlu_dir: Path) -> LanguageDetector:
    """The detector trained on `nlu_dir`, built once per process."""
    return LanguageDetector(read_nlu_examples(nlu_dir))
