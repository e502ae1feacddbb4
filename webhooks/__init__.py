"""The Flask app: Twilio's webhooks, the health check, hearing calendars, the coordinators' dashboard.
Thin: the work is in `puente`."""

from __future__ import annotations

import logging

from flask import Flask

from puente.config import Settings, load_settings
from puente.db import DATABASE_ERRORS
from puente.logs import configure_logging
from puente.services import Services

logger = logging.getLogger(__name__)

#: Seconds start-up spends applying opt-outs kept while the database was down.
SPOOL_DRAIN_TIMEOUT = 5.0


def create_app(settings: Settings | None = None) -> Flask:
    """The app factory (`gunicorn "webhooks:create_app()"`)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    settings.require_secret_key()  # refuse to start rather than fail on the first text
    settings.old_secret_key_bytes()

    app = Flask(__name__)
    app.config["PUENTE_SETTINGS"] = settings
    # Twilio's forms are a few KB (a body is at most 1,600 characters): refuse floods early.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    core = app.extensions["puente"] = Services(settings)
    _apply_spooled_optouts(core)

    from webhooks.calendar import bp as calendar_bp
    from webhooks.health import bp as health_bp
    from webhooks.twilio import bp as twilio_bp
    from webhooks.twilio.status import bp as status_bp

    app.register_blueprint(twilio_bp)
    app.register_blueprint(status_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(calendar_bp)

    from dashboard import init_app as init_dashboard

    init_dashboard(app, core)
    return app


def _apply_spooled_optouts(core: Services) -> None:
    """Opt-outs kept during an outage take effect on start-up; a database still down waits."""
    try:
        core.apply_spooled_optouts(SPOOL_DRAIN_TIMEOUT)
    except DATABASE_ERRORS as error:
        logger.warning(
            "spooled opt-outs not applied at start-up (%s): they will be at the next message",
            type(error).__name__,
        )
