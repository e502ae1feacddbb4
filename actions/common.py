"""What every action needs: the core's services and the person's language."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker

from puente.config import load_settings
from puente.services import Services


@lru_cache(maxsize=1)
def services() -> Services:
    """The core's services for this action server process, built on first use."""
    return Services(load_settings())


def language_of(tracker: Tracker) -> str:
    """The language the webhook chose for this message (sent as message metadata)."""
    metadata: dict[str, Any] = (tracker.latest_message or {}).get("metadata") or {}
    return services().languages.get(metadata.get("language")).code


def translator(language: str) -> Callable[[str], str]:
    return services().languages.translations(language).gettext
