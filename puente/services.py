"""The core's parts, built from settings on first use (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from puente.assistant import RasaClient
from puente.config import Settings
from puente.db import Database
from puente.directory.places import PlaceCache
from puente.i18n import LanguageRegistry, registry
from puente.i18n.detect import LanguageDetector, detector_for
from puente.models import utcnow
from puente.optout_spool import OptOutSpool
from puente.privacy import Vault

if TYPE_CHECKING:
    from puente.broadcasts.sending import Context
    from puente.jobs.queue import JobQueue


class Services:
    """What webhooks, actions and the worker share: one of each per process."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        #: The time, in UTC (tests give a clock of their own: nothing depends on the time of day).
        self.clock = clock

    def close(self) -> None:
        """Close what was opened (the sender's connections, the queue, the database pool)."""
        if "broadcast_context" in self.__dict__:
            self.broadcast_context.sender.close()
        if "jobs" in self.__dict__:
            self.jobs.close()
        if "database" in self.__dict__:
            self.database.dispose()

    @cached_property
    def jobs(self) -> JobQueue:
        """The job queue, to enqueue on (the worker sets its own)."""
        from puente.jobs.queue import JobQueue

        return JobQueue(self.settings)

    @cached_property
    def broadcast_context(self) -> Context:
        """The sender, the shared send pace, quiet hours and WhatsApp templates."""
        from puente.broadcasts.sending import context_for

        return context_for(self)

    @cached_property
    def database(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.settings.require_secret_key(), self.settings.old_secret_key_bytes())

    @cached_property
    def languages(self) -> LanguageRegistry:
        return registry(self.settings.locales_dir)

    @cached_property
    def detector(self) -> LanguageDetector:
        return detector_for(self.settings.nlu_dir)

    @cached_property
    def assistant(self) -> RasaClient:
        return RasaClient(self.settings.rasa_url, self.settings.actions_url, self.settings.rasa_timeout)

    @cached_property
    def places(self) -> PlaceCache:
        """The directory's places, kept current with imports made while this process runs."""
        return PlaceCache(self.database)

    @cached_property
    def optout_spool(self) -> OptOutSpool:
        return OptOutSpool(self.settings.var_dir / "spool" / "optout")

    def apply_spooled_optouts(self, timeout: float | None) -> int:
        """Apply the opt-outs kept while the database was down (see puente.optout_spool).

        Raises a database error when the database still fails; returns how many were applied.
        """
        return self.optout_spool.drain(
            self.database, self.languages, self.settings.default_language, timeout
        )
