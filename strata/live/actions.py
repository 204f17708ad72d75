"""Publishing events: rows in the Event table plus a NOTIFY, in the caller's transaction.

PostgreSQL delivers a NOTIFY only when its transaction commits (and drops it on rollback), so a page is
never told about a message that was not saved; every app host's event server LISTENs on CHANNEL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Event

CHANNEL = "strata_events"
# NOTIFY payloads must stay under 8000 bytes; a bigger event is announced by id and read from the table.
MAX_NOTIFY_BYTES = 7000


def notice(event: Event) -> str:
    """Return the NOTIFY payload announcing EVENT: its id, recipient, kind and (when small) payload."""
    body = {"id": event.pk, "r": event.recipient_id, "k": event.kind, "p": event.payload}
    text = json.dumps(body, separators=(",", ":"))
    if len(text.encode()) > MAX_NOTIFY_BYTES:
        text = json.dumps({"id": event.pk, "r": event.recipient_id, "k": event.kind})
    return text


def publish(recipients: Iterable[int], kind: str, payload_for) -> list[Event]:
    """Store one KIND event per recipient id (payload_for(id) -> dict) and announce them on commit."""
    events = [Event(recipient_id=r, kind=kind, payload=payload_for(r)) for r in recipients]
    if not events:
        return []
    with transaction.atomic():
        Event.objects.bulk_create(events)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_notify(%s, n) FROM unnest(%s::text[]) AS n", [CHANNEL, [notice(e) for e in events]]
            )
    return events


# Ids are handed out when a row is inserted, but transactions commit in their own order: an event with a
# smaller id may become visible just after a page saw a larger one. A replay also resends the events
# committed this recently below Last-Event-ID (the page drops the ids it has seen).
REPLAY_OVERLAP = timedelta(seconds=10)


def events_after(user_id: int, after: int, limit: int = 500) -> list[Event]:
    """Return USER_ID's events newer than AFTER (a reconnecting stream's Last-Event-ID), and the recent
    ones below it (REPLAY_OVERLAP), oldest first."""
    recent = Q(id__gt=after) | Q(created__gte=timezone.now() - REPLAY_OVERLAP)
    return list(Event.objects.filter(recent, recipient_id=user_id).order_by("id")[:limit])


def prune_events(keep: timedelta | None = None) -> int:
    """Delete events older than KEEP (settings.STRATA_EVENTS_KEEP_SECONDS); return how many."""
    if keep is None:
        keep = timedelta(seconds=settings.STRATA_EVENTS_KEEP_SECONDS)
    deleted, _ = Event.objects.filter(created__lt=timezone.now() - keep).delete()
    return deleted
