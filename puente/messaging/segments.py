"""SMS segments and pages: what a reply costs, and how a long one is cut for MORE.

An SMS is GSM-7 when every character is in the GSM 03.38 alphabet (160 characters
in one segment, 153 per part of a longer one; the extension characters such as
`€ [ ] { } | ^ ~ \\` take two), and UCS-2 otherwise (70, then 67 per part, counted
in UTF-16 units: an emoji takes two). Chinese, Vietnamese and Korean are always UCS-2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

#: Twilio's limit on one message body.
MAX_BODY = 1600
#: How many segments one SMS answer may cost before it is paged behind MORE.
SMS_SEGMENT_BUDGET = 3
#: WhatsApp has no segments: one message of up to this many characters.
WHATSAPP_PAGE = 1600


@dataclass(frozen=True)
class Encoding:
    name: str  # "GSM-7" or "UCS-2"
    single: int  # units in a one-segment message
    part: int  # units per segment of a longer one


GSM7 = Encoding("GSM-7", 160, 153)
UCS2 = Encoding("UCS-2", 70, 67)


def encoding_of(text: str) -> Encoding:
    return GSM7 if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else UCS2


def units(text: str, encoding: Encoding | None = None) -> int:
    """Length in the encoding's units: GSM-7 septets, or UTF-16 code units for UCS-2."""
    encoding = encoding or encoding_of(text)
    if encoding is GSM7:
        return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many SMS segments `text` is sent as (0 for an empty text)."""
    if not text:
        return 0
    encoding = encoding_of(text)
    n = units(text, encoding)
    return 1 if n <= encoding.single else math.ceil(n / encoding.part)


def _fits(text: str, budget: int) -> bool:
    return segments(text) <= budget


def paginate(text: str, more_prompt: str, *, sms: bool) -> list[str]:
    """`text` cut into pages that each fit the channel, every page but the last ending with `more_prompt`.

    SMS pages cost at most `SMS_SEGMENT_BUDGET` segments each (the prompt included); WhatsApp
    pages are at most `WHATSAPP_PAGE` characters. Cuts fall between paragraphs, then sentences,
    then words, and only inside a word when a single word is longer than a page.
    """
    def fits(candidate: str, last: bool) -> bool:
        body = candidate if last else f"{candidate}\n{more_prompt}"
        return _fits(body, SMS_SEGMENT_BUDGET) if sms else len(body) <= WHATSAPP_PAGE

    if fits(text, last=True):
        return [text]
    # Sentences (and lines) first; a sentence too long for a page alone, word by word.
    pieces: list[str] = []
    for sentence in _split(text, _SENTENCE):
        pieces.extend(_split(sentence, _WORD) if not fits(sentence.strip(), last=False) else [sentence])
    pages: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + piece
        if not current.strip() or fits(candidate.rstrip(), last=False):
            current = candidate
            continue
        pages.append(current.rstrip())
        current = piece.lstrip()
    if current.strip():
        pages.append(current.rstrip())
    # A single word longer than a page is cut by characters.
    cut: list[str] = []
    for page in pages:
        while not fits(page, last=False) and len(page) > 1:
            head = page
            while not fits(head, last=False) and len(head) > 1:
                head = head[: max(1, int(len(head) * 0.9))]
            cut.append(head.rstrip())
            page = page[len(head):].lstrip()
        cut.append(page)
    return [f"{page}\n{more_prompt}" for page in cut[:-1]] + cut[-1:]


_SENTENCE = re.compile(r"\n+|(?<=[.!?。！？])\s+|(?<=[。！？])")
_WORD = re.compile(r"\s+")


def _split(text: str, boundary: re.Pattern[str]) -> list[str]:
    """`text` cut after each boundary; the pieces, joined, give `text` back."""
    out: list[str] = []
    start = 0
    for match in boundary.finditer(text):
        if match.end() > start:
            out.append(text[start:match.end()])
            start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out
