"""The two Chinese scripts: converting between them with OpenCC."""

from __future__ import annotations

from functools import lru_cache

import opencc


@lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def convert(text: str, config: str) -> str:
    """`text` in the other Chinese script (`s2t`: Simplified to Traditional, `t2s` back)."""
    return str(_converter(config).convert(text))
