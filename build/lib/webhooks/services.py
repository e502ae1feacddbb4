"""Access to the core's services from a request."""

from __future__ import annotations

from flask import current_app

from puente.services import Services


def services() -> Services:
    found: Services = current_app.extensions["puente"]
    return found
