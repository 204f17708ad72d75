"""The files JSON API (see openapi.json). Authenticated by session (with CSRF) or a per-user API token."""

from __future__ import annotations

import functools
import json
import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.http import Http404, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from . import access, actions
from .models import File, Folder, Share, Space, Upload

PAGE_SIZE = 200
log = logging.getLogger("strata.files")


def client_address(request):
    return request.META.get("REMOTE_ADDR") or None


def _token_user(request):
    """Return the person holding the `Authorization: Bearer TOKEN`, or None (bad, revoked, or a service's)."""
    from strata.accounts.actions import token_for

    row = token_for(request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip())
    return row.user if row is not None and row.user_id else None


def _csrf_refused(request) -> bool:
    """Check Origin/Referer and the X-CSRFToken header, never the body: for a POST, Django's check reads
    request.POST, which would parse (and buffer) an upload before its streaming handler is in place."""
    method, request.method = request.method, "PUT"
    try:
        return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None
    finally:
        request.method = method


def api_view(*methods):
    """Authenticate (token or session + CSRF), allow METHODS, and turn refusals into JSON errors."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                return JsonResponse(
                    {"error": f"Use {' or '.join(methods)}."},
                    status=405,
                    headers={"Allow": ", ".join(methods)},
                )
            if request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
                user = _token_user(request)
                if user is None:
                    return JsonResponse({"error": "The API token is not valid."}, status=401)
                request.user = user
            elif not request.user.is_authenticated:
                return JsonResponse({"error": "Log in or send an API token."}, status=401)
            elif request.method not in ("GET", "HEAD") and _csrf_refused(request):
                return JsonResponse({"error": "CSRF check failed: reload the page."}, status=403)
            try:
                return view(request, *args, **kwargs)
            except actions.FilesError as exc:
                return JsonResponse({"error": str(exc)}, status=exc.status)
            except Http404:
                return JsonResponse({"error": "Not found."}, status=404)
            except (BotoCoreError, ClientError) as exc:
                log.error("file server error: %s", exc)
                return JsonResponse({"error": "The file server is unavailable; try again later."}, status=503)

        return inner

    return wrap


def body_json(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise actions.FilesError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise actions.FilesError("The request body must be a JSON object.")
    return data


def _int(value, what: str, required: bool = True):
    if value in (None, "") and not required:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise actions.FilesError(f"{what} must be a number.") from None


def file_json(f: File) -> dict:
    return {
        "id": f.id,
        "type": "file",
        "name": f.name,
        "size": f.size,
        "content_type": f.content_type,
        "sha256": f.sha256 or None,
        "space": f.space_id,
        "folder": f.folder_id,
        "created_at": f.created_at.isoformat(),
        "updated_at": f.updated_at.isoformat(),
        "download": reverse("files:api-file-content", args=[f.id]),
        "missing": f.missing_since is not None,
    }


def folder_json(f: Folder) -> dict:
    return {
        "id": f.id,
        "type": "folder",
        "name": f.name,
        "space": f.space_id,
        "parent": f.parent_id,
        "created_at": f.created_at.isoformat(),
    }


def space_json(s: Space) -> dict:
    return {"id": s.id, "kind": s.kind, "title": s.title}


def target(request, data) -> tuple[Space, Folder | None]:
    """Return the (space, folder) a request names; the folder implies its space."""
    folder_id = _int(data.get("folder"), "folder", required=False)
    if folder_id is not None:
        folder = access.get_folder(request.user, folder_id, access.WRITE)
        return folder.space, folder
    space_id = _int(data.get("space"), "space", required=False)
    space = (
        access.get_space(request.user, space_id, access.WRITE)
        if space_id is not None
        else actions.personal_space(request.user)
    )
    return space, None


def download_response(target_uri: str, f: File) -> HttpResponse:
    """Hand the transfer to nginx: the app worker never carries the bytes."""
    from .storage import content_disposition

    resp = HttpResponse(status=200)
    resp["X-Accel-Redirect"] = target_uri
    resp["X-Accel-Buffering"] = "no"
    resp["Content-Type"] = f.content_type
    resp["Content-Disposition"] = content_disposition(f.name)
    resp["Cache-Control"] = "private, no-store"
    return resp


# --- endpoints ---------------------------------------------------------------------------------------


@api_view("GET")
def spaces(request):
    return JsonResponse(
        {
            "spaces": [space_json(s) for s in actions.spaces_for(request.user)],
            "quota": {"limit": actions.quota_bytes(request.user), "used": actions.used_bytes(request.user)},
        }
    )


@api_view("GET")
def space_listing(request, space_id):
    space = access.get_space(request.user, space_id)
    folder_id = _int(request.GET.get("folder"), "folder", required=False)
    folder = access.get_folder(request.user, folder_id) if folder_id is not None else None
    if folder is not None and folder.space_id != space.id:
        raise Http404
    folders, files = actions.listing(space, folder)
    page = max(_int(request.GET.get("page", 1), "page"), 1)
    start = (page - 1) * PAGE_SIZE
    return JsonResponse(
        {
            "space": space_json(space),
            "folder": folder_json(folder) if folder else None,
            "folders": [folder_json(f) for f in folders[start : start + PAGE_SIZE]],
            "files": [file_json(f) for f in files[start : start + PAGE_SIZE]],
            "page": page,
        }
    )


@api_view("POST")
def folders(request):
    data = body_json(request)
    space, parent = target(request, data)
    folder = actions.create_folder(request.user, space, parent, data.get("name"))
    return JsonResponse(folder_json(folder), status=201)


def _content_length(request) -> int:
    if request.META.get("HTTP_TRANSFER_ENCODING"):
        raise actions.FilesError("Send the size in Content-Length (chunked bodies are not accepted).", 411)
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        raise actions.FilesError("Content-Length is required.", 411)
    return _int(length, "Content-Length")


@api_view("PUT")
def upload_put(request):
    """Upload one file in one request: the body is the file's bytes, streamed to the file server."""
    space, folder = target(request, request.GET)
    f = actions.upload_file(
        request.user,
        space,
        folder,
        request.GET.get("name"),
        request,
        _content_length(request),
        request.META.get("CONTENT_TYPE") or "",
        rename=request.GET.get("conflict") == "rename",
        address=client_address(request),
    )
    return JsonResponse(file_json(f), status=201)


@api_view("POST")
def upload_form(request):
    """Upload files as multipart/form-data; each file part streams to the file server as it arrives."""
    from . import multipart

    space, folder = target(request, request.GET)
    length = _content_length(request)
    if length > actions.max_upload_bytes():
        raise actions.FilesError(f"Files are limited to {actions.max_upload_bytes()} bytes.", 413)
    # The body bounds the files' total size: refuse before reading it when it cannot fit.
    free = actions.quota_bytes(request.user) - actions.used_bytes(request.user)
    if length > free + 64 * 1024:
        raise actions.QuotaExceeded(
            f"This upload needs up to {length} bytes but only {max(free, 0)} are free."
        )
    _fields, stored, _handler = multipart.parse(request)
    files = actions.register_uploaded(
        request.user,
        space,
        folder,
        stored,
        rename=request.GET.get("conflict") == "rename",
        address=client_address(request),
    )
    return JsonResponse({"files": [file_json(f) for f in files]}, status=201)


def _upload_json(upload: Upload, parts: dict[int, int]) -> dict:
    return {
        "id": str(upload.id),
        "name": upload.name,
        "size": upload.size,
        "part_size": upload.part_size,
        "parts": actions.part_count(upload),
        "received": sorted(parts),
    }


def _get_upload(request, upload_id) -> Upload:
    upload = (
        Upload.objects.filter(pk=upload_id, user=request.user).select_related("space", "folder").first()
        if _is_uuid(upload_id)
        else None
    )
    if upload is None:
        raise Http404
    return upload


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@api_view("POST")
def uploads(request):
    """Open a resumable upload of SIZE bytes, sent as numbered parts."""
    data = body_json(request)
    space, folder = target(request, data)
    upload = actions.begin_upload(
        request.user,
        space,
        folder,
        data.get("name"),
        _int(data.get("size"), "size"),
        str(data.get("content_type") or "application/octet-stream")[:255],
    )
    return JsonResponse(_upload_json(upload, {}), status=201)


@api_view("GET", "DELETE")
def upload_detail(request, upload_id):
    upload = _get_upload(request, upload_id)
    if request.method == "DELETE":
        actions.cancel_upload(upload)
        return HttpResponse(status=204)
    return JsonResponse(_upload_json(upload, actions.upload_parts(upload)))


@api_view("PUT")
def upload_part(request, upload_id, number):
    upload = _get_upload(request, upload_id)
    actions.put_upload_part(upload, number, request, _content_length(request))
    return JsonResponse({"part": number}, status=200)


@api_view("POST")
def upload_complete(request, upload_id):
    upload = _get_upload(request, upload_id)
    f = actions.complete_upload(upload, rename=True, address=client_address(request))
    return JsonResponse(file_json(f), status=201)


@api_view("GET", "PATCH", "DELETE")
def file_detail(request, file_id):
    if request.method == "GET":
        return JsonResponse(file_json(access.get_file(request.user, file_id)))
    f = access.get_file(request.user, file_id, access.WRITE)
    if request.method == "DELETE":
        actions.trash(request.user, f, address=client_address(request))
        return HttpResponse(status=204)
    return JsonResponse(file_json(_patch(request, f)))


def _patch(request, node):
    data = body_json(request)
    if "folder" in data or "space" in data:
        if data.get("folder") is None and "space" not in data:
            space, folder = node.space, None
        else:
            space, folder = target(request, data)
        actions.move(request.user, node, space, folder, address=client_address(request))
    if "name" in data:
        actions.rename(request.user, node, data["name"], address=client_address(request))
    return node


@api_view("GET", "HEAD")
def file_content(request, file_id):
    f = access.get_file(request.user, file_id)
    return download_response(actions.download_target(request.user, f, address=client_address(request)), f)


@api_view("POST")
def file_restore(request, file_id):
    f = access.get_file(request.user, file_id, access.WRITE, trashed=True)
    actions.restore(request.user, f, address=client_address(request))
    return JsonResponse(file_json(f))


@api_view("GET", "PATCH", "DELETE")
def folder_detail(request, folder_id):
    if request.method == "GET":
        return JsonResponse(folder_json(access.get_folder(request.user, folder_id)))
    folder = access.get_folder(request.user, folder_id, access.WRITE)
    if request.method == "DELETE":
        actions.trash(request.user, folder, address=client_address(request))
        return HttpResponse(status=204)
    return JsonResponse(folder_json(_patch(request, folder)))


@api_view("POST")
def folder_restore(request, folder_id):
    folder = access.get_folder(request.user, folder_id, access.WRITE, trashed=True)
    actions.restore(request.user, folder, address=client_address(request))
    return JsonResponse(folder_json(folder))


def _node(request, kind, node_id, need):
    if kind not in ("files", "folders"):
        raise Http404
    return (
        access.get_file(request.user, node_id, need)
        if kind == "files"
        else access.get_folder(request.user, node_id, need)
    )


@api_view("POST")
def shares(request, kind, node_id):
    node = _node(request, kind, node_id, access.WRITE)
    data = body_json(request)
    s = actions.share(
        request.user,
        node,
        username=str(data.get("username") or ""),
        group=str(data.get("group") or ""),
        permission=data.get("permission", Share.READ),
        address=client_address(request),
    )
    return JsonResponse(
        {
            "id": s.id,
            "permission": s.permission,
            "user": s.user.username if s.user else None,
            "group": s.group.name if s.group else None,
        },
        status=201,
    )


@api_view("POST")
def links(request, kind, node_id):
    node = _node(request, kind, node_id, access.WRITE)
    data = body_json(request)
    link = actions.create_link(
        request.user,
        node,
        expires_in_days=_int(data.get("expires_in_days"), "expires_in_days", False),
        password=str(data.get("password") or ""),
        max_downloads=_int(data.get("max_downloads"), "max_downloads", False),
        address=client_address(request),
    )
    return JsonResponse(
        {
            "id": link.id,
            "url": request.build_absolute_uri(reverse("files:public", args=[link.token])),
            "expires_at": link.expires_at.isoformat() if link.expires_at else None,
            "max_downloads": link.max_downloads,
        },
        status=201,
    )


@api_view("DELETE")
def share_detail(request, share_id):
    actions.unshare(request.user, access.get_share(request.user, share_id), address=client_address(request))
    return HttpResponse(status=204)


@api_view("DELETE")
def link_detail(request, link_id):
    actions.revoke_link(request.user, access.get_link_for_owner(request.user, link_id))
    return HttpResponse(status=204)


@api_view("GET")
def search(request):
    return JsonResponse(
        {"files": [file_json(f) for f in actions.search(request.user, request.GET.get("q", ""))]}
    )


@api_view("POST")
def empty_trash(request, space_id):
    space = access.get_space(request.user, space_id, access.WRITE)
    return JsonResponse({"purged": actions.empty_trash(request.user, space, address=client_address(request))})


@require_safe
def openapi(request):
    """Serve the API description (public: it holds no data)."""
    from .openapi import document

    return JsonResponse(document())
