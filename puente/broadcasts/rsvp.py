"""RSVP: a YES or NO to a mobilization alert, answered before Rasa, in milliseconds.

The alert leaves an open question (`puente.questions`, kind "rsvp") that holds only the
broadcast's id and expires with its RSVP window; a newer question (another alert, a
sign-up step) replaces it, so an answer goes to the newest. The latest answer counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from puente.broadcasts.models import Broadcast, Rsvp, Status

#: The open question's kind (`puente.questions.OpenQuestion.kind`).
RSVP_QUESTION = "rsvp"


def record(session: Session, broadcast_id: int, contact_id: int, answer: str, now: datetime) -> bool:
    """Keep `answer` ("yes" or "no") as the person's RSVP; False when the alert is gone or cancelled."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.status == Status.CANCELLED.value:
        return False
    row = session.get(Rsvp, (broadcast_id, contact_id))
    if row is None:
        session.add(Rsvp(broadcast_id=broadcast_id, contact_id=contact_id, answer=answer, answered_at=now))
    else:
        row.answer, row.answered_at = answer, now
    return True
