from django.conf import settings
from django.utils.functional import SimpleLazyObject


def messaging(request):
    """Give every page the unread count for the nav: one query, run only when a template reads it."""
    user = getattr(request, "user", None)
    out: dict[str, object] = {"messaging_email": bool(settings.STRATA_COMMS)}
    if user is not None and user.is_authenticated:
        from .actions import unread_total

        out["messaging_unread"] = SimpleLazyObject(lambda: unread_total(user))
    return out
