"""HTTP helpers shared by the files pages (views.py) and the JSON API (api.py)."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse

from . import access, actions
from .errors import FilesError


def client_address(request) -> str | None:
    """Return the caller's address as the web tier gave it, for the audit trail."""
    return request.META.get("REMOTE_ADDR") or None


def json_error(status: int, message: str, headers: dict | None = None) -> JsonResponse:
    """Return the API's error shape: `{"error": MESSAGE}` with STATUS."""
    return JsonResponse({"error": message}, status=status, headers=headers)


def download_response(url: str) -> HttpResponse:
    """Send the person to URL, the signed URL on the content host that serves the bytes (never this
    origin). Not cached: the URL expires within minutes."""
    resp = HttpResponseRedirect(url)
    resp["Cache-Control"] = "private, no-store"
    return resp


def content_response(target_uri: str, content_type: str, disposition: str) -> HttpResponse:
    """Hand the transfer to nginx on the content host: the app worker never carries the bytes. Its headers
    are the only Content-Type and Content-Disposition the person gets (nginx hides the file server's)."""
    resp = HttpResponse(status=200)
    resp["X-Accel-Redirect"] = target_uri
    resp["X-Accel-Buffering"] = "no"
    resp["Content-Type"] = content_type
    resp["Content-Disposition"] = disposition
    resp["Cache-Control"] = "private, no-store"
    return resp


def int_param(value, what: str) -> int | None:
    """Return VALUE (a form field) as an int, None when empty, or raise FilesError naming WHAT."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FilesError(f"{what} must be a number.") from None


def target(user, space_id: int | None, folder_id: int | None):
    """Return the (space, folder) a request names for writing; the folder implies its space."""
    if folder_id is not None:
        folder = access.get_folder(user, folder_id, access.UPLOAD)
        return folder.space, folder
    if space_id is not None:
        return access.get_space(user, space_id, access.WRITE), None
    return actions.personal_space(user), None
