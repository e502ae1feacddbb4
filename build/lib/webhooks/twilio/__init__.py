"""Twilio's webhooks: inbound SMS and WhatsApp messages."""

from webhooks.twilio.inbound import bp

__all__ = ["bp"]
