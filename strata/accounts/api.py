"""The JSON API: bearer tokens held by people or service accounts, authorised by group membership."""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from strata.people.actions import search_people

from . import actions

MAX_PEOPLE = 500


def _error(status: int, message: str) -> JsonResponse:
    resp = JsonResponse({"error": message}, status=status)
    if status == 401:
        resp["WWW-Authenticate"] = 'Bearer realm="strata"'
    return resp


def _caller(request):
    """Return (token, group names) for the request's bearer token, or an error response."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None, _error(401, "send an API token: Authorization: Bearer <token>")
    token = actions.token_for(secret.strip())
    if token is None:
        return None, _error(401, "unknown, revoked or disabled token")
    holder = token.user or token.service
    groups = set(holder.groups.values_list("name", flat=True)) if holder is not None else set()
    return (token, groups), None


def api_view(require_group: bool):
    def wrap(view):
        @never_cache
        @require_GET
        def inner(request, *args, **kwargs):
            found, error = _caller(request)
            if error:
                return error
            token, groups = found
            if require_group and settings.STRATA_API_GROUP not in groups:
                return _error(403, f"the token's holder is not in the group {settings.STRATA_API_GROUP!r}")
            return view(request, token, groups, *args, **kwargs)

        return inner

    return wrap


@api_view(require_group=False)
def me(request, token, groups):
    """Say who the token belongs to and its groups."""
    kind, name = ("person", token.user.get_username()) if token.user_id else ("service", token.service.name)
    return JsonResponse({"kind": kind, "name": name, "groups": sorted(groups), "token": token.prefix})


@api_view(require_group=True)
def people(request, token, groups):
    """List active people and their contact details (the people directory), optionally searched."""
    rows = search_people(request.GET.get("q", ""))[:MAX_PEOPLE]
    out = []
    for u in rows:
        p = getattr(u, "profile", None)
        out.append(
            {
                "username": u.get_username(),
                "name": u.get_full_name(),
                "email": u.email,
                "phone": p.phone if p else "",
                "fax": p.fax if p else "",
                "title": p.title if p else "",
                "department": p.department if p else "",
            }
        )
    return JsonResponse({"people": out})
