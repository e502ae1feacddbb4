"""The alert texts a person reads, in their language: what they will get, and what changed."""

from __future__ import annotations

from collections.abc import Sequence

from babel.lists import format_list
from sqlalchemy.orm import Session

from puente.alerts.subscriptions import Plan
from puente.directory.answers import Directory
from puente.directory.replies import Reader
from puente.i18n import N_, LanguageRegistry

TOPIC_NAMES = {
    "hearings": N_("hearing"),
    "mobilization": N_("mobilization"),
    "policy_updates": N_("policy update"),
    "clinics": N_("legal clinic"),
}
#: Names, not words: the same in every language.
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp"}


def topics(reader: Reader, names: Sequence[str]) -> str:
    """"hearing and mobilization", in the reader's language and list style."""
    _ = reader.gettext
    return format_list([_(TOPIC_NAMES.get(t, t)) for t in names], locale=reader.locale)


def place(reader: Reader, session: Session, jurisdiction_id: str) -> str:
    found = Directory(session).get(jurisdiction_id)
    return reader.name(found) if found is not None else jurisdiction_id


def consent(reader: Reader, session: Session, languages: LanguageRegistry, plan: Plan) -> str:
    """The exact text a person says YES to (kept in their consent record)."""
    _ = reader.gettext
    # The channel is the one they are texting on (kept in the consent record): leaving it out
    # keeps the consent within 3 SMS segments in Spanish and Vietnamese.
    return _("Confirm: %(topics)s alerts for %(place)s in %(language)s. Urgent "
             "mobilization alerts may come at any hour. Msg & data rates may apply. "
             "Reply YES to confirm.") % _plan_values(reader, session, languages, plan)


def describe(reader: Reader, session: Session, languages: LanguageRegistry, plan: Plan | None) -> str:
    _ = reader.gettext
    if plan is None:
        return _('You get no alerts now. To sign up, text something like "alert me about hearings '
                 'in Fresno".')
    return _("You get %(topics)s alerts for %(place)s by %(channel)s in %(language)s. To change, "
             'text "only hearings", "no more mobilization alerts" or "change my area to Fresno". '
             "STOP ends everything.") % _plan_values(reader, session, languages, plan)


def _plan_values(reader: Reader, session: Session, languages: LanguageRegistry, plan: Plan) -> dict[str, str]:
    _ = reader.gettext
    return {
        "topics": topics(reader, plan.topics),
        "place": place(reader, session, plan.jurisdiction_id),
        "channel": CHANNEL_NAMES.get(plan.channel, plan.channel),
        "language": languages.get(plan.language).name,
    }


def ask_topics(reader: Reader) -> str:
    _ = reader.gettext
    return _("Which alerts do you want? Reply with numbers: 1 hearings, 2 mobilization, "
             "3 policy updates, 4 legal clinic days. Or reply ALL.")


def ask_area(reader: Reader) -> str:
    _ = reader.gettext
    return _("For which city, county, school district or ZIP code?")


def signed_up(reader: Reader, session: Session, plan: Plan) -> str:
    _ = reader.gettext
    return _("Done! You'll get %(topics)s alerts for %(place)s. Text \"my alerts\" to see them, "
             "STOP to end.") % {"topics": topics(reader, plan.topics),
                                "place": place(reader, session, plan.jurisdiction_id)}


def nothing_changed(reader: Reader) -> str:
    _ = reader.gettext
    return _("OK, nothing changed.")


def left(reader: Reader, session: Session, gone: Sequence[str], plan: Plan | None) -> str:
    _ = reader.gettext
    done = _("Done: no more %(topics)s alerts.") % {"topics": topics(reader, gone)}
    if plan is None:
        return done + " " + _("You get no other alerts.")
    return done + " " + _("You still get %(topics)s alerts for %(place)s.") % {
        "topics": topics(reader, plan.topics), "place": place(reader, session, plan.jurisdiction_id)}


def not_subscribed(reader: Reader, names: Sequence[str]) -> str:
    _ = reader.gettext
    return _("You don't get %(topics)s alerts.") % {"topics": topics(reader, names)}


def which_to_leave(reader: Reader) -> str:
    _ = reader.gettext
    return _('Which alerts should stop? For example "no more mobilization alerts". STOP ends everything.')


def only_now(reader: Reader, session: Session, plan: Plan) -> str:
    _ = reader.gettext
    return _("Done: from now on only %(topics)s alerts for %(place)s.") % {
        "topics": topics(reader, plan.topics), "place": place(reader, session, plan.jurisdiction_id)}


def not_here(reader: Reader) -> str:
    _ = reader.gettext
    return _("Alerts are set up by texting Puente's number from your phone.")
