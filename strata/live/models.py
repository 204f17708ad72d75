"""One event for one person: what an open page of theirs is told (server.py streams them)."""

from django.conf import settings
from django.db import models


class Event(models.Model):
    MESSAGE, UNREAD, SHARE = "message", "unread", "share"
    KINDS = [(MESSAGE, "new message"), (UNREAD, "unread count"), (SHARE, "shared with you")]

    # The id is the stream's Last-Event-ID: a page that reconnects gets every later event of its person.
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=KINDS)
    payload = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["recipient", "id"], name="live_event_recipient_id")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id} ({self.pk})"
