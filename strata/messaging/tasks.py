"""Background tasks of the messaging app, run by the app role's `worker` program.

Actions enqueue send_notification; the delivery loop lives here because a failed attempt enqueues the
next one. Nothing here imports actions, so the dependency goes one way (actions -> tasks -> delivery).
"""

import logging
import smtplib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from .delivery import GIVE_UP_AFTER, RETRY_CAP_SECONDS, comms, is_permanent, submit
from .mailtext import one_line
from .models import Notification

log = logging.getLogger("strata.messaging")


def deliver_notification(notification_id: int) -> str:
    """Submit one queued email to Postfix unless it went already; on failure plan the next attempt."""
    with transaction.atomic():
        # The row lock makes a second task for the same email wait, then find it sent.
        n = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if n is None or n.state != Notification.PENDING:
            return n.state if n else "missing"
        if not comms():
            n.state, n.last_error = Notification.FAILED, "email is off (no comms role)"
            n.save(update_fields=["state", "last_error"])
            return n.state
        n.attempts += 1
        try:
            submit(n)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            n.last_error = one_line(f"{type(exc).__name__}: {exc}", 300)
            now = timezone.now()
            if isinstance(exc, ValueError) or is_permanent(exc) or now - n.created_at > GIVE_UP_AFTER:
                n.state, n.next_attempt_at = Notification.FAILED, None
                log.warning("email %s to %s failed for good: %s", n.msgid, n.to_address, n.last_error)
            else:
                delay = min(2**n.attempts, RETRY_CAP_SECONDS)
                n.next_attempt_at = now + timedelta(seconds=delay)
                send_notification.using(run_after=n.next_attempt_at).enqueue(n.pk)
                log.info(
                    "email %s: attempt %d failed (%s), next in %ds", n.msgid, n.attempts, n.last_error, delay
                )
        else:
            # The body may hold a password-reset link: not kept once the mail is gone.
            n.state, n.sent_at, n.next_attempt_at, n.body = Notification.SENT, timezone.now(), None, ""
            n.last_error = ""
        n.save()
        return n.state


def requeue_stuck(grace: timedelta = timedelta(minutes=5)) -> int:
    """Enqueue again pending emails whose attempt is long overdue (a task lost with a crashed worker)."""
    stuck = Notification.objects.filter(
        state=Notification.PENDING, next_attempt_at__lt=timezone.now() - grace
    )
    count = 0
    for pk in stuck.values_list("pk", flat=True)[:1000]:
        send_notification.enqueue(pk)
        count += 1
    return count


@task()
def send_notification(notification_id: int) -> str:
    """Submit one queued email to the comms server; retries are planned by deliver_notification."""
    return deliver_notification(notification_id)


@task()
def requeue_stuck_notifications() -> int:
    """Enqueue again emails whose retry task was lost (scheduled by STRATA_SCHEDULE)."""
    return requeue_stuck()
