"""MORE: the rest of a long answer, kept for its person for a while, page by page.

A reply longer than the channel's budget (3 SMS segments; 1,600 characters on
WhatsApp) is cut into pages; the first is sent with a localized "Reply MORE" prompt
and the others wait here. MORE (or its word in any language) sends the next one,
before Rasa is asked anything. Only Puente's own replies are kept, never a
person's words, and for an hour at most.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from puente.db import Base, as_utc
from puente.messaging.segments import paginate
from puente.models import utcnow

#: How long the rest of an answer waits for MORE.
PAGES_KEPT = timedelta(hours=1)


class PendingPages(Base):
    """The pages of one person's last long answer that they have not asked for yet."""

    __tablename__ = "pending_pages"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    pages: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def more_prompt(gettext: Callable[[str], str]) -> str:
    _ = gettext
    return _("Reply MORE for the rest.")


def pages_of(replies: list[str], gettext: Callable[[str], str], *, sms: bool) -> list[str]:
    """An answer's replies as the pages the channel takes (one page when they fit)."""
    return paginate("\n\n".join(r for r in replies if r), more_prompt(gettext), sms=sms)


def first_page(session: Session, contact_id: int, replies: list[str], pages: list[str], language: str
               ) -> list[str]:
    """The replies to send now: all of them when they fit (one page), else the first page, the rest
    kept for MORE. A new answer replaces whatever an older one had left."""
    pending = session.get(PendingPages, contact_id)
    if len(pages) == 1:
        if pending is not None:
            session.delete(pending)
        return [r for r in replies if r]
    if pending is None:
        pending = PendingPages(contact_id=contact_id)
        session.add(pending)
    pending.pages, pending.language, pending.expires_at = pages[1:], language, utcnow() + PAGES_KEPT
    return pages[:1]


def has_more(session: Session, contact_id: int) -> bool:
    pending = session.get(PendingPages, contact_id)
    return pending is not None and as_utc(pending.expires_at) > utcnow() and bool(pending.pages)


def next_page(session: Session, contact_id: int) -> str | None:
    """The next page of the last long answer, or None when nothing (unexpired) is left."""
    # Locked: two quick MOREs must not both get the same page.
    pending = session.get(PendingPages, contact_id, with_for_update=True)
    if pending is None:
        return None
    if as_utc(pending.expires_at) <= utcnow() or not pending.pages:
        session.delete(pending)
        return None
    page, rest = pending.pages[0], pending.pages[1:]
    if rest:
        pending.pages = rest
    else:
        session.delete(pending)
    return page
