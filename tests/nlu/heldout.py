"""The frozen held-out set (tests/nlu/heldout.yml) and how it is scored.

The set was written once, by someone who never saw the training data, and is never
trained on. Some of its messages still match a training example word for word (short
greetings, the examples both writers were shown); the scores that count are on the
messages the model has never seen, and both are reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from puente.config import PROJECT_ROOT
from puente.directory.localize import convert
from puente.i18n import fold
from puente.i18n.detect import read_nlu_examples

HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"


@dataclass(frozen=True)
class Message:
    text: str
    intent: str
    language: str | None  # None for messages in no language at all ("95407", "👍")
    seen: bool  # word for word (folded) in the training data


def load(nlu_dir: Path = PROJECT_ROOT / "nlu_data" / "nlu") -> list[Message]:
    training = {fold(t) for texts in read_nlu_examples(nlu_dir).values() for t in texts}
    raw = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["messages"]
    return [Message(m["text"], m["intent"], m["language"], fold(m["text"]) in training) for m in raw]


def same_in_both_scripts(text: str) -> bool:
    return convert(text, "s2t") == text and convert(text, "t2s") == text


def language_right(message: Message, guess: str | None) -> bool:
    """A text that reads the same in both Chinese scripts is right for either."""
    assert message.language is not None
    if guess == message.language:
        return True
    chinese = message.language.startswith("zh") and guess is not None and guess.startswith("zh")
    return chinese and same_in_both_scripts(message.text)


def macro_f1(pairs: Iterable[tuple[str, str | None]]) -> float:
    """Macro-averaged F1 over the true labels of (truth, prediction) pairs."""
    pairs = list(pairs)
    scores = []
    for label in {truth for truth, _ in pairs}:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def by_language(messages: Iterable[Message]) -> dict[str, list[Message]]:
    grouped: dict[str, list[Message]] = defaultdict(list)
    for m in messages:
        grouped[m.language or "none"].append(m)
    return dict(grouped)


def confusions(
    pairs: Iterable[tuple[str, str | None]], most: int = 15
) -> list[tuple[tuple[str, str | None], int]]:
    return Counter((t, p) for t, p in pairs if t != p).most_common(most)
