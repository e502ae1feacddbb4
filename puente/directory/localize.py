"""Directory texts in a person's language: `{en: …, es: …, zh: …}` maps, with fallbacks.

`zh` serves both Chinese scripts: Traditional readers get it converted with OpenCC
unless the map gives `zh_Hant` (and `zh_Hans` likewise for Simplified readers). Any
other missing language falls back to `en`.
"""

from __future__ import annotations

from collections.abc import Mapping

from puente.i18n.scripts import convert

#: Puente's language code → the keys to try, in order, and the OpenCC conversion for each.
_CHAIN: dict[str, tuple[tuple[str, str | None], ...]] = {
    "zh_Hans": (("zh_Hans", None), ("zh", "t2s"), ("zh_Hant", "t2s")),
    "zh_Hant": (("zh_Hant", None), ("zh", "s2t"), ("zh_Hans", "s2t")),
}


__all__ = ["convert", "localized"]


def localized(texts: Mapping[str, str] | None, language: str) -> str:
    """The text for `language` from a localized map; `en` when it has none ("" for no map)."""
    if not texts:
        return ""
    for key, conversion in _CHAIN.get(language, ((language, None),)):
        text = texts.get(key)
        if text:
            # `zh` may hold either script: convert it whatever it holds (a no-op when it matches).
            return convert(text, conversion) if conversion else text
    return texts.get("en") or next(iter(texts.values()))
