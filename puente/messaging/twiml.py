"""TwiML: the XML answer to Twilio's webhook."""

from __future__ import annotations

import re

from twilio.twiml.messaging_response import MessagingResponse

# What XML 1.0 cannot hold at all, escaped or not: most C0 controls, surrogates, U+FFFE/FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_twiml(replies: list[str]) -> str:
    """`<Response>` with one `<Message>` per reply; an empty `<Response/>` for none.

    Characters XML cannot carry are dropped, so the answer always parses.
    """
    response = MessagingResponse()
    for text in replies:
        response.message(_NOT_XML.sub("", text))
    return str(response)
