#!/usr/bin/env python
"""Cross-validated intent scores on the TRAINING data, for tuning without the held-out set.

    .venv-rasa/bin/python bench/ko_cv.py [--config bot/config.yml] [--folds 0 1 2] [--name NAME]

The examples of every language are cut into K stratified folds (per language and intent,
fixed seed). For each fold asked for, a model is trained on the other folds of every
language (plus nlu_data/nlu/languages.yml and any train-only file, by default
ko/extra.yml, which is never scored, so adding to it keeps the scored set the same) and
scores the fold it did not see: intent macro F1 per language (nlu_fallback counts as a
wrong answer, as in make nlu-report), and Korean's confusions. Predictions go to
var/cv/NAME/foldN.json, so two runs can be compared message by message.

Never reads tests/nlu/heldout.yml: that set is measured once, by someone else.
A fold trains in about 2 to 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

Example = tuple[str, str, str, str]  # language, file, intent, text


def read_examples(nlu: Path) -> list[Example]:
    examples: list[Example] = []
    for path in sorted(nlu.glob("*/*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in document.get("nlu") or []:
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if text:
                    examples.append((path.parent.name, path.name, block["intent"], text))
    return examples


def assign_folds(examples: list[Example], k: int, seed: int) -> dict[Example, int]:
    """Round-robin within each (language, intent) after a seeded shuffle: stratified folds."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for example in sorted(set(examples)):
        groups[(example[0], example[2])].append(example)
    folds: dict[Example, int] = {}
    for key in sorted(groups):
        members = groups[key]
        random.Random(f"{seed}:{key[0]}:{key[1]}").shuffle(members)
        for i, example in enumerate(members):
            folds[example] = i % k
    return folds


def write_nlu(examples: list[tuple[str, str]], path: Path) -> None:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    blocks = [{"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
              for intent, texts in sorted(by_intent.items())]

    class Literal(str):
        pass

    def literal(dumper: yaml.SafeDumper, value: Literal) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")

    yaml.add_representer(Literal, literal, Dumper=yaml.SafeDumper)
    for block in blocks:
        block["examples"] = Literal(block["examples"])
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the true labels, as tests/nlu/heldout.py computes it (a copy: this
    script runs in the Rasa venv, which cannot import puente's dependencies)."""
    scores = []
    for label in {truth for truth, _ in pairs}:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


async def parse_all(model: str, texts: list[str]) -> list[dict[str, object]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
        out.append({"intent": (parsed.get("intent") or {}).get("name"),
                    "best": ranking[0]["name"] if ranking else None})
    return out


def run_fold(config: Path, train: list[tuple[str, str]], nlu_extra: Path, work: Path) -> str:
    from rasa.model_training import train_nlu

    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    write_nlu(train, data / "train.yml")
    (data / "languages.yml").write_text(nlu_extra.read_text(encoding="utf-8"), encoding="utf-8")
    model = train_nlu(str(config), str(data), str(work / "models"), fixed_model_name="cv")
    if model is None:
        raise SystemExit("training failed")
    return str(model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "bot" / "config.yml")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-only", nargs="*", default=["ko/extra.yml"],
                        help="language/file.yml always trained on, never scored")
    parser.add_argument("--name", default="run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    nlu = ROOT / "nlu_data" / "nlu"
    examples = read_examples(nlu)
    train_only = [e for e in examples if f"{e[0]}/{e[1]}" in args.train_only]
    scored = [e for e in examples if f"{e[0]}/{e[1]}" not in args.train_only]
    folds = assign_folds(scored, args.k, args.seed)
    out_dir = ROOT / "var" / "cv" / args.name
    out_dir.mkdir(parents=True, exist_ok=True)
    every: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for fold in args.folds:
        test = sorted(e for e, f in folds.items() if f == fold)
        # A text also in a training fold (same words, another file) would be "seen": not scored.
        train = [(e[2], e[3]) for e, f in folds.items() if f != fold] + [(e[2], e[3]) for e in train_only]
        seen = {t.casefold() for _, t in train}
        test = [e for e in test if e[3].casefold() not in seen]
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as work:
            model = run_fold(args.config, train, nlu / "languages.yml", Path(work))
            trained = time.monotonic() - started
            predictions = asyncio.run(parse_all(model, [e[3] for e in test]))
        rows = [{"language": e[0], "truth": e[2], "text": e[3], "predicted": p["intent"], "best": p["best"]}
                for e, p in zip(test, predictions, strict=True)]
        (out_dir / f"fold{fold}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=0),
                                                  encoding="utf-8")
        per_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for e, p in zip(test, predictions, strict=True):
            per_language[e[0]].append((e[2], str(p["intent"])))
        print(f"fold {fold}: trained in {trained:.0f} s on {len(train)} examples, {len(test)} scored; "
              + " ".join(f"{lang} {macro_f1(pairs):.3f}" for lang, pairs in sorted(per_language.items())),
              flush=True)
        for lang, pairs in per_language.items():
            every[lang].extend(pairs)
    print(f"\n{args.name}: folds {args.folds}, config {args.config}")
    print(f"{'language':10} {'n':>5} {'accuracy':>9} {'macro F1':>9}")
    for lang, pairs in sorted(every.items()):
        accuracy = sum(t == p for t, p in pairs) / len(pairs)
        print(f"{lang:10} {len(pairs):5} {accuracy:9.3f} {macro_f1(pairs):9.3f}")
    print("\nKorean confusions (truth -> predicted: count):")
    for (truth, guessed), count in Counter((t, p) for t, p in every["ko"] if t != p).most_common(25):
        print(f"  {truth} -> {guessed}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
