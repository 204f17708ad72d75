from django.conf import settings
from django.utils.functional import SimpleLazyObject

from strata.site.live import cached


def messaging(request):
    """Give every page the unread count for the nav: from the live cache, or one query when a template
    reads it after it changed."""
    user = getattr(request, "user", None)
    out: dict[str, object] = {"messaging_email": bool(settings.STRATA_COMMS)}
    if user is not None and user.is_authenticated:
        from .actions import unread_total

        out["messaging_unread"] = SimpleLazyObject(
            lambda: cached("n", str(user.pk), lambda: unread_total(user))
        )
    return out
