"""Django's EMAIL_BACKEND while the comms role is on: every email (password resets too) is queued as a
Notification and sent by the worker, with retries and a stable Message-ID."""

from django.core.mail import BadHeaderError
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from . import actions
from .mailtext import has_control_chars


class QueueBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        count = 0
        for message in email_messages:
            if has_control_chars(message.subject):
                raise BadHeaderError("Header values can't contain newlines")
            with transaction.atomic():
                for to in message.recipients():
                    actions.queue_email(to, message.subject, message.body)
                    count += 1
        return count
