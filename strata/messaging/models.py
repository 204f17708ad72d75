"""Conversations between people (or with a group), their messages, and the email sent about them."""

import base64
import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.urls import reverse


def new_reply_token() -> str:
    """Return a random token for a reply address: 26 lower-case base32 characters (128 bits)."""
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


class Conversation(models.Model):
    subject = models.CharField(max_length=200, blank=True)
    # A group conversation reaches the group's current members; when the group is deleted the
    # conversation stays with the people already in it.
    is_group = models.BooleanField(default=False)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.subject or f"Conversation {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("messaging:conversation", args=[self.pk])


class Participant(models.Model):
    """A person in a conversation: their unread count and their own reply token for email replies."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_memberships"
    )
    reply_token = models.CharField(max_length=32, unique=True, default=new_reply_token, editable=False)
    unread = models.PositiveIntegerField(default=0)
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="one_participant_per_user")
        ]
        indexes = [models.Index(fields=["user", "unread"], name="participant_user_unread")]

    def __str__(self) -> str:
        return f"{self.user} in {self.conversation_id}"


class Message(models.Model):
    WEB, EMAIL = "web", "email"
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="messages_sent"
    )
    body = models.TextField()
    via = models.CharField(max_length=8, choices=[(WEB, "web"), (EMAIL, "email")], default=WEB)
    # The Message-ID of the email a reply came in: Postfix may hand the same email over twice.
    email_message_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "email_message_id"],
                condition=~Q(email_message_id=""),
                name="one_message_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} in {self.conversation_id}"


class MailPreference(models.Model):
    IMMEDIATELY, NEVER = "immediately", "never"
    CHOICES = [(IMMEDIATELY, "Immediately: an email for each new message"), (NEVER, "Never")]
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_preference"
    )
    notify = models.CharField(max_length=16, choices=CHOICES, default=IMMEDIATELY)

    def __str__(self) -> str:
        return f"{self.user}: {self.notify}"


class Notification(models.Model):
    """One email to one address, sent by the worker; its Message-ID is fixed when it is queued."""

    PENDING, SENT, FAILED = "pending", "sent", "failed"
    STATES = [(PENDING, "pending"), (SENT, "sent"), (FAILED, "failed")]
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    to_address = models.CharField(max_length=254)
    from_name = models.CharField(max_length=200, blank=True)
    reply_to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    msgid = models.CharField("Message-ID", max_length=255, unique=True)
    state = models.CharField(max_length=8, choices=STATES, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.msgid} to {self.to_address} ({self.state})"
