"""bot/components: Korean words lose their particles and endings; Hangul and Han words are not emoji."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from bot.components.korean import split_hangul
from puente.config import PROJECT_ROOT


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("이민자한테", ["이민자", "한테"]),
        ("학교에서요", ["학교", "에서", "요"]),
        ("협조하나요", ["협조", "하나요"]),
        ("경찰이", ["경찰", "이"]),
        ("있어요", ["있", "어요"]),
        ("통과됐나요", ["통과", "됐나요"]),
        ("무료로", ["무료", "로"]),
    ],
)
def test_particles_and_endings_come_off_the_stem(word: str, parts: list[str]) -> None:
    assert split_hangul(word) == parts
    assert "".join(parts) == word


@pytest.mark.parametrize("word", ["회의", "국가", "아이", "우리", "이민자", "샌디에이고", "중요", "변호사"])
def test_short_words_and_words_without_an_ending_stay_whole(word: str) -> None:
    assert split_hangul(word) == [word]


@pytest.mark.parametrize("word", ["ICE", "Fresno", "90006", "ICE랑", "有没有", "hello요", ""])
def test_anything_not_all_hangul_stays_whole(word: str) -> None:
    assert split_hangul(word) == [word]


RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
TOKENIZE = """
import json, sys
from bot.components.tokenizer import MultilingualTokenizer as T
from rasa.shared.nlu.training_data.message import Message
out = {}
for split in (False, True):
    tokenizer = T({**T.get_default_config(), "split_korean_endings": split})
    out[str(split)] = [[t.text for t in tokenizer.tokenize(Message({"text": s}), "text")]
                       for s in json.loads(sys.argv[1])]
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="needs the Rasa venv (make setup)")
def test_the_tokenizer_keeps_hangul_and_han_words_and_drops_emoji() -> None:
    texts = ["ICE랑 경찰이 협력해요 😀", "Fresno 有没有 律师", "우리 애 학교가 이민국이랑 협조하나요?"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONWARNINGS": "ignore",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([str(RASA_PYTHON), "-c", TOKENIZE, json.dumps(texts)], capture_output=True,
                          text=True, check=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    tokens = json.loads(done.stdout.strip().splitlines()[-1])
    assert tokens["False"] == [["ICE", "랑", "경찰이", "협력해요"], ["Fresno", "有", "没", "有", "律", "师"],
                               ["우리", "애", "학교가", "이민국이랑", "협조하나요"]]
    assert tokens["True"][0] == ["ICE", "랑", "경찰", "이", "협력", "해요"]
    assert tokens["True"][1] == tokens["False"][1]
    assert tokens["True"][2] == ["우리", "애", "학교", "가", "이민국", "이랑", "협조", "하나요"]
