"""Greetings, thanks and goodbyes."""

from __future__ import annotations

from actions.common import TranslatedReply
from puente.i18n import N_


class ActionGreet(TranslatedReply):
    action_name = "action_greet"
    message = N_(
        "Hi, I'm Puente! I answer questions about local immigrant-rights policies in California "
        "and connect you with coalitions and school legal clinics. Ask me \"What can you do?\" "
        "to start."
    )


class ActionThank(TranslatedReply):
    action_name = "action_thank"
    message = N_("You're welcome! Text me anytime.")


class ActionGoodbye(TranslatedReply):
    action_name = "action_goodbye"
    message = N_("Thank you for writing. Text me anytime.")
