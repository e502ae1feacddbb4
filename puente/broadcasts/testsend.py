"""`--test-to PHONE`: the broadcast, as one person would read it, to one number only.

Nothing about the number is stored: the test is a broadcast of its own (kind `test`)
with one delivery that names no contact, sent at once through the one sender.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from puente.broadcasts import texts
from puente.broadcasts.models import Broadcast, Delivery, Kind, OutboxMessage, State, Status
from puente.broadcasts.sender import Outcome, Outgoing
from puente.broadcasts.sending import apply_early_statuses_committed
from puente.broadcasts.service import BroadcastError, Request
from puente.messaging.segments import segments
from puente.privacy import InvalidAddress, parse_address

if TYPE_CHECKING:
    from puente.services import Services


def send_test(services: Services, request: Request, phone: str, now: datetime) -> tuple[int, str]:
    """Send `request` to `phone` in `request.language` (or English); (broadcast id, what happened)."""
    try:
        address = parse_address(phone)
    except InvalidAddress:
        raise BroadcastError(
            "--test-to is not a phone number in E.164 form, e.g. +12135550100 (whatsapp:+1… for WhatsApp)"
        ) from None
    language = {"zh": "zh_Hans", None: "en"}.get(request.language, request.language) or "en"
    written = texts.broadcast_message(
        services.languages,
        request.texts,
        language,
        rsvp=request.rsvp_hours is not None,
    )
    ctx = services.broadcast_context
    result = ctx.sender.send(Outgoing(address.channel, address.phone, body=written.body))
    state = {Outcome.SENT: State.SENT, Outcome.FAILED: State.FAILED}.get(result.outcome, State.UNKNOWN)
    with services.database.session(timeout=30) as session:
        test = Broadcast(
            kind=Kind.TEST.value,
            purpose=request.purpose,
            topics=[request.topic],
            jurisdiction_id=request.jurisdiction_id,
            language=request.language,
            texts=request.texts,
            status=Status.DONE.value,
            scheduled_at=now,
            urgent=request.urgent,
            recipients=1,
            created_by=request.created_by,
            created_at=now,
            started_at=now,
            finished_at=now,
        )
        session.add(test)
        session.flush()
        delivery = Delivery(
            broadcast_id=test.id,
            contact_id=None,
            channel=address.channel,
            language=language,
            timezone="UTC",
            state=state.value,
            reason=result.reason,
            error_code=result.error_code,
            message_sid=result.sid,
            segments=segments(written.body),
            attempts=1,
            sent_at=now if state is State.SENT else None,
            updated_at=now,
        )
        session.add(delivery)
        session.flush()
        if ctx.sender.outbox and result.sid:
            vault = services.vault
            session.add(
                OutboxMessage(
                    delivery_id=delivery.id,
                    channel=address.channel,
                    to_encrypted=vault.encrypt(address.phone),
                    to_last_digits=address.phone[-4:],
                    body=written.body,
                    created_at=now,
                )
            )
        test_id = test.id
    if result.outcome is Outcome.SENT and result.sid:
        # Its status callbacks may have come first, kept as early (see the function).
        apply_early_statuses_committed(services.database, [result.sid])
    if result.outcome is Outcome.SENT:
        where = "kept in the outbox (no Twilio credentials)" if ctx.sender.outbox else "sent"
        return test_id, f"{where}, in {language}, {segments(written.body)} segments"
    detail = f"{result.reason} (error {result.error_code})" if result.error_code else str(result.reason)
    if result.outcome is Outcome.FAILED:
        return test_id, f"failed: {detail}"
    return test_id, f"not confirmed ({detail}): check Twilio's log before sending again"
