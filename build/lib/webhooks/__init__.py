"""The Flask app: Twilio's webhooks and the health check. Thin: the work is in `puente`."""

from __future__ import annotations

from flask import Flask

from puente.config import Settings, load_settings
from puente.logs import configure_logging
from puente.services import Services


def create_app(settings: Settings | None = None) -> Flask:
    """The app factory (`gunicorn "webhooks:create_app()"`)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    settings.require_secret_key()  # refuse to start rather than fail on the first text

    app = Flask(__name__)
    app.config["PUENTE_SETTINGS"] = settings
    # Twilio's forms are a few KB (a body is at most 1,600 characters): refuse floods early.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["puente"] = Services(settings)

    from webhooks.health import bp as health_bp
    from webhooks.twilio import bp as twilio_bp

    app.register_blueprint(twilio_bp)
    app.register_blueprint(health_bp)
    return app
