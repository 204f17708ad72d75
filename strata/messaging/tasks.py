"""Background tasks of the messaging app, run by the app role's `worker` program."""

from django_tasks import task

from . import actions


@task()
def send_notification(notification_id: int) -> str:
    """Submit one queued email to the comms server; retries are planned by deliver_notification."""
    return actions.deliver_notification(notification_id)


@task()
def requeue_stuck_notifications() -> int:
    """Enqueue again emails whose retry task was lost (scheduled by STRATA_SCHEDULE)."""
    return actions.requeue_stuck_notifications()
