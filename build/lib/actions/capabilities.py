""""What can you do?", and what Puente says when it did not understand."""

from __future__ import annotations

from actions.common import TranslatedReply
from puente.i18n import N_


class ActionCapabilities(TranslatedReply):
    action_name = "action_capabilities"
    message = N_(
        "Puente helps with local immigrant-rights policies in California: what your city, county "
        "and school district have passed, local coalitions, and legal clinics at schools. Text "
        "LANGUAGE to change language, HELP for help, STOP to unsubscribe."
    )


class ActionOutOfScope(TranslatedReply):
    action_name = "action_out_of_scope"
    # Also what questions get whose capability is not built yet: no promise, no dead end.
    message = N_("Sorry, I can't answer that yet. Ask me \"What can you do?\" to see how I can help.")


class ActionDefaultFallback(TranslatedReply):
    """Replaces Rasa's default fallback, whose text would live in the domain."""

    action_name = "action_default_fallback"
    message = N_("Sorry, I didn't understand. Ask me \"What can you do?\" or text HELP.")
