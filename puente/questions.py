"""The newest question Puente asked a person, kept until it is answered or expires.

"Reply YES to confirm", "which alerts?", "reply DELETE again to erase": a short answer
such as YES means something only in the light of the question it answers. Each person
has at most one open question; a newer one replaces the older, and each has an
expiry. Only Puente's own question is kept (its kind and what answering it does),
never the person's words.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from puente.db import Base, as_utc
from puente.models import utcnow


class OpenQuestion(Base):
    __tablename__ = "open_questions"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    #: What is asked: "confirm_delete", "confirm_stop", "signup_topics", "signup_area", "signup_confirm", …
    kind: Mapped[str] = mapped_column(String(32))
    #: What answering it needs (for a sign-up: the topics, place, channel and exact consent text).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def ask(session: Session, contact_id: int, kind: str, payload: dict[str, Any], language: str,
        expires_in: timedelta, now: datetime | None = None) -> OpenQuestion:
    """Keep `kind` as the person's open question, replacing any older one."""
    now = now or utcnow()
    question = session.get(OpenQuestion, contact_id)
    if question is None:
        question = OpenQuestion(contact_id=contact_id)
        session.add(question)
    question.kind, question.payload, question.language = kind, payload, language
    question.asked_at, question.expires_at = now, now + expires_in
    session.flush()
    return question


def open_question(session: Session, contact_id: int, now: datetime | None = None) -> OpenQuestion | None:
    """The person's open question, or None when there is none or it has expired (then it is dropped)."""
    question = session.get(OpenQuestion, contact_id)
    if question is None:
        return None
    if as_utc(question.expires_at) <= (now or utcnow()):
        session.delete(question)
        return None
    return question


def close(session: Session, contact_id: int) -> None:
    question = session.get(OpenQuestion, contact_id)
    if question is not None:
        session.delete(question)
