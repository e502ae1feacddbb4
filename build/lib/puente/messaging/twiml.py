"""TwiML: the XML answer to Twilio's webhook."""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse


def render_twiml(replies: list[str]) -> str:
    """`<Response>` with one `<Message>` per reply; an empty `<Response/>` for none."""
    response = MessagingResponse()
    for text in replies:
        response.message(text)
    return str(response)
