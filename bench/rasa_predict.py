"""Predict intents for a list of texts with the trained model, in Rasa's own venv.

    .venv-rasa/bin/python bench/rasa_predict.py MODEL IN.json OUT.json

IN.json is a list of texts; OUT.json gets, in the same order, the intent Rasa returns
(`nlu_fallback` below the fallback threshold) and the best intent before that
fallback. `make nlu-report` runs it; the scoring happens in the app's venv.
"""

import asyncio
import json
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
logging.disable(logging.WARNING)


async def predict(model: str, texts: list) -> list:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        intent = parsed.get("intent") or {}
        ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
        out.append({"intent": intent.get("name"), "confidence": intent.get("confidence"),
                    "best": ranking[0]["name"] if ranking else None,
                    "best_confidence": ranking[0]["confidence"] if ranking else None})
    return out


def main() -> None:
    model, source, target = sys.argv[1:4]
    with open(source, encoding="utf-8") as fp:
        texts = json.load(fp)
    results = asyncio.run(predict(model, texts))
    with open(target, "w", encoding="utf-8") as fp:
        json.dump(results, fp, ensure_ascii=False)


if __name__ == "__main__":
    main()
