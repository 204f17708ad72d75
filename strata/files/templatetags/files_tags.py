"""Template helpers for the file page: who has access and which public links exist, in two queries."""

from __future__ import annotations

from django import template
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .. import access
from ..models import PublicLink, Share

register = template.Library()


@register.simple_tag(takes_context=True)
def file_access(context, file, crumbs):
    """Return the shares that reach FILE (its own and its folders', CRUMBS) and its live public links
    (only for someone the sharing table lets see link tokens).

    Read in two queries whatever the number of shares or links, so the page stays fast.
    """
    folder_ids = [c.id for c in crumbs]
    shares = list(
        Share.objects.filter(Q(file=file) | Q(folder_id__in=folder_ids))
        .select_related("user", "group", "folder")
        .order_by("folder_id", "user__username", "group__name")
    )
    request = context.get("request")
    now = timezone.now()
    links: list[dict] = []
    user = getattr(request, "user", None)
    if user is None or not access.allows(access.role_on(user, file), access.SEE_LINKS):
        return {"shares": shares, "links": links}
    for link in PublicLink.objects.filter(file=file, revoked=False).order_by("-created_at")[:50]:
        expired = link.expires_at is not None and link.expires_at <= now
        used_up = link.max_downloads is not None and link.downloads >= link.max_downloads
        path = reverse("files:public", args=[link.token])
        links.append(
            {
                "link": link,
                "url": request.build_absolute_uri(path) if request is not None else path,
                "live": not (expired or used_up),
                "state": "expired" if expired else "download limit reached" if used_up else "active",
            }
        )
    return {"shares": shares, "links": links}


@register.filter
def space_is_mine(space, user) -> bool:
    """Return whether USER may open SPACE itself (their own, or their group's), not just a share in it."""
    from ..access import space_role

    return space_role(user, space) is not None
