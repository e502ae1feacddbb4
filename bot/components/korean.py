"""Korean particles and endings cut off a Hangul word, so the word features see its stem.

Korean glues particles (josa: 이민자 + 한테, 학교 + 에서) and verb endings (협조 + 하나요,
있 + 어요) to the word they follow, so whole-word features see 학교에서, 학교는 and
학교도 as three unrelated words. This cuts the commonest of them off, from the end,
at most twice (학교 + 에서 + 요), and keeps what it cuts as tokens of their own.

Deliberately small and conservative: a one-syllable particle is only cut from a word
of three syllables or more (경찰이 is 경찰 + 이, but 회의, 국가 and 아이 stay whole), a
longer one leaves at least one syllable. No dictionary, nothing to download; plain
Python, so the app's tests can check it without Rasa.
"""

from __future__ import annotations

from typing import List

# Longer endings first within each length does not matter: the longest match wins.
_ENDINGS = frozenset(
    """
    에서 에게 한테 께서 으로 이랑 까지 부터 처럼 보다 에는 에도 에선 에서는 으로는 한테는 까지는
    이에요 예요 이요 인가요 인데 인데요 인지 입니다 입니까 이죠 이야 이나 이라도 이라서
    나요 까요 을까요 습니까 습니다 세요 으세요 어요 아요 여요 죠 는지 은지 는데 은데 는데요 니까
    어서 아서 으면 려면 으려면 려고 고요 거든요 잖아요 네요 군요 던데 던데요 다고 냐고
    해요 해 했어요 했어 했나요 했는지 했는데 했습니다 하나요 하나 합니까 합니다 하세요 해주세요
    해줘 해줘요 해줄 하는 하고 하면 하려면 하려고 할까요 할 한 하는지 하기 해야 해야돼요 해야해요
    해서 하는데 하죠 해도 하지 했다 했던
    되나요 돼요 됐나요 됐어요 되는 되면 된 될 되는지 됐는지 되어 돼 되죠 됩니까
    시켰나요 시켰어요 시켰는지 시키나요 시켜요 시킨
    """.split()
)
_LONGEST = max(len(e) for e in _ENDINGS)
_PARTICLES = frozenset("은 는 이 가 을 를 에 의 로 와 과 도 만 랑 요".split())


def _is_hangul(text: str) -> bool:
    return all("\uac00" <= ch <= "\ud7a3" for ch in text)


def _cut(word: str) -> tuple[str, str] | None:
    """The stem and the ending cut from the end of a Hangul word, or None."""
    for size in range(min(_LONGEST, len(word) - 1), 1, -1):
        if word[-size:] in _ENDINGS:
            return word[:-size], word[-size:]
    if len(word) >= 3 and word[-1] in _PARTICLES:
        return word[:-1], word[-1]
    return None


def split_hangul(word: str, times: int = 2) -> List[str]:
    """A Hangul word as its stem and the particles or endings cut off it (joined, the word).

    Anything that is not all Hangul syllables comes back whole.
    """
    if not _is_hangul(word):
        return [word]
    tail: List[str] = []
    stem = word
    for _ in range(times):
        cut = _cut(stem)
        if cut is None:
            break
        stem, ending = cut
        tail.insert(0, ending)
    return [stem, *tail]
