"""Replies the end-to-end tests expect, by msgid: compared in each language through the catalogs."""

from __future__ import annotations

from puente.i18n import registry

GREETING = (
    "Hi, I'm Puente! I answer questions about local immigrant-rights policies in California and "
    'connect you with coalitions and school legal clinics. Ask me "What can you do?" to start.'
)
FALLBACK = "Sorry, Puente can't answer right now. Please try again in a few minutes."


def tr(language: str, message: str) -> str:
    return registry().gettext(language, message)


def in_any_language(message: str) -> set[str]:
    """`message` in every supported language."""
    return {tr(language, message) for language in registry().codes}
