"""Which language is a text message written in?

A small naive Bayes classifier over character n-grams, trained at start-up on
the NLU examples in `nlu_data/nlu/<code>/`: the same data that teaches Rasa a
language teaches the detector, so adding a language needs no code. Character
n-grams work for every script: they see "hola" in "holaa", and tell Simplified
from Traditional Chinese by the characters that differ.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from puente.i18n import fold

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
        for code, texts in examples.items():
            counts: Counter[str] = Counter()
            for text in texts:
                counts.update(ngrams(text))
            if counts:
                self._counts[code] = counts
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

    def detect(self, text: str) -> Guess | None:
        """The likeliest language and its posterior; None for text with no letters."""
        grams = [g for g in ngrams(text) if any(ch.isalpha() for ch in g)]
        if not grams:
            return None
        scores = {
            code: sum(log_p.get(g, self._log_unseen[code]) for g in grams)
            for code, log_p in self._log_p.items()
        }
        ranked = sorted(scores, key=lambda code: scores[code], reverse=True)
        top = scores[ranked[0]]
        total = sum(math.exp(s - top) for s in scores.values())
        runner_up = math.exp(scores[ranked[1]] - top) / total if len(ranked) > 1 else 0.0
        return Guess(ranked[0], 1.0 / total, runner_up)


def read_nlu_examples(nlu_dir: Path) -> dict[str, list[str]]:
    """Training examples per language from `nlu_dir/<code>/*.yml` (Rasa's format)."""
    examples: dict[str, list[str]] = {}
    for folder in sorted(p for p in nlu_dir.iterdir() if p.is_dir()):
        texts = examples.setdefault(folder.name, [])
        for path in sorted(folder.glob("*.yml")):
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
