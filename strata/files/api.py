"""The files JSON API, served under /api/files/ and described by /api/files/openapi.json.

Every endpoint's parameters, request body and responses are declared once, as django-ninja operations
with pydantic models: ninja validates requests against those declarations and generates the OpenAPI
document from the same ones, so the document cannot drift from the code. django-ninja rather than
DRF + drf-spectacular because the API is a few function views over `actions`, not model viewsets:
ninja keeps them plain functions (no serializer/viewset layer) and the schema is the type hints.

Authentication keeps the site's rules: `Authorization: Bearer TOKEN` (a person's API token), or the
session cookie plus the X-CSRFToken header for writes. The upload endpoints declare their body as
binary and read `request` themselves, so the bytes stream to the file server and are never parsed or
buffered by the framework. Downloads answer with X-Accel-Redirect: nginx carries the bytes.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from django.http import Http404, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import URLPattern, reverse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer

from strata import __version__

from . import access, actions
from .http import client_address, download_response, json_error, target
from .models import Upload
from .schemas import (
    BYTES_ERRORS,
    ERRORS,
    FORM_BODY,
    RAW_BODY,
    Conflict,
    FileOut,
    FilesOut,
    FolderIn,
    FolderOut,
    Id,
    Kind,
    LinkIn,
    LinkOut,
    ListingOut,
    Name,
    NodePatch,
    Page,
    PartNumber,
    PartOut,
    PurgedOut,
    ShareIn,
    ShareOut,
    SpacesOut,
    Target,
    UploadIn,
    UploadOut,
    file_json,
    folder_json,
    space_json,
    upload_json,
)

PAGE_SIZE = 200
log = logging.getLogger("strata.files")


# --- authentication ------------------------------------------------------------------------------
class TokenAuth(HttpBearer):
    """`Authorization: Bearer TOKEN`: a person's API token (a service's token is refused here)."""

    def __call__(self, request):
        if not request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
            return None  # not this scheme: the session may authenticate
        user = _token_user(request)
        if user is None:
            raise HttpError(401, "The API token is not valid.")
        request.user = user
        return user

    def authenticate(self, request, token):
        raise NotImplementedError  # __call__ does the whole job


class SessionAuth(APIKeyCookie):
    """The site's session cookie; writes also need the X-CSRFToken header."""

    param_name = "sessionid"

    def __init__(self):
        super().__init__(csrf=False)  # ninja's check reads request.POST: see _csrf_refused

    def __call__(self, request):
        if not request.user.is_authenticated:
            raise HttpError(401, "Log in or send an API token.")
        if request.method not in ("GET", "HEAD") and _csrf_refused(request):
            raise HttpError(403, "CSRF check failed: reload the page.")
        return request.user

    def authenticate(self, request, key):
        raise NotImplementedError  # __call__ does the whole job


def _token_user(request):
    """Return the person holding the `Authorization: Bearer TOKEN`, or None (bad, revoked, or a service's)."""
    from strata.accounts.actions import token_for

    row = token_for(request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip())
    return row.user if row is not None and row.user_id else None


def _unused(request) -> HttpResponse:
    """Stand in for the view and the next middleware: the CSRF check calls neither."""
    return HttpResponse(status=500)


def _csrf_refused(request) -> bool:
    """Check Origin/Referer and the X-CSRFToken header, never the body: for a POST, Django's check reads
    request.POST, which would parse (and buffer) an upload before its streaming handler is in place."""
    method, request.method = request.method, "PUT"
    try:
        return CsrfViewMiddleware(_unused).process_view(request, _unused, (), {}) is not None
    finally:
        request.method = method


class JsonObjectParser(Parser):
    """Parse a JSON request body, which must be an object (ninja wraps the error in a 400)."""

    def parse_body(self, request):
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise actions.FilesError("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise actions.FilesError("The request body must be a JSON object.")
        return data


class FilesAPI(NinjaAPI):
    def get_root_path(self, path_params):
        # The operations are included into the files app's URLs (names stay "files:api-…").
        return reverse("files:api-spaces")


api = FilesAPI(
    title="Strata files API",
    version=__version__,
    description="Authenticate with the session cookie (and the X-CSRFToken header for writes) or with "
    "`Authorization: Bearer <token>`. Names are stored in Unicode NFC; a name already taken gives 409 "
    "unless `conflict=rename` (then “name (2).ext”). Downloads are served by the web server "
    "(X-Accel-Redirect) and honour Range.",
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="files-api",
    docs_url=None,
    openapi_url="/openapi.json",
    parser=JsonObjectParser(),
)


# --- errors: always {"error": message} -------------------------------------------------------------


@api.exception_handler(actions.FilesError)
def _files_error(request, exc):
    return json_error(exc.status, str(exc))


@api.exception_handler(HttpError)
def _http_error(request, exc):
    cause = exc.__cause__  # ninja wraps the body parser's refusal: keep its message
    return json_error(exc.status_code, str(cause if isinstance(cause, actions.FilesError) else exc))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return json_error(401, "Log in or send an API token.")


@api.exception_handler(Http404)
def _not_found(request, exc):
    return json_error(404, "Not found.")


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    return json_error(400, _describe(exc.errors))


@api.exception_handler(BotoCoreError)
@api.exception_handler(ClientError)
def _file_server_down(request, exc):
    log.error("file server error: %s", exc)
    return json_error(503, "The file server is unavailable; try again later.")


def _describe(errors) -> str:
    """Return one line naming each bad field and what is wrong with it."""
    out = []
    for e in errors:
        names = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "data")]
        out.append(f"{'.'.join(names) or 'request body'}: {e.get('msg', 'invalid')}")
    return "; ".join(out) + "."


def json_405(view):
    """Answer a method the path does not declare with the API's JSON error (ninja's is plain text)."""

    @functools.wraps(view)
    def inner(request, *args, **kwargs):
        resp = view(request, *args, **kwargs)
        if resp.status_code == 405 and resp.get("Content-Type", "").startswith("text/"):
            allowed = sorted(m.strip() for m in resp["Allow"].split(","))
            return json_error(405, f"Use {' or '.join(allowed)}.", headers={"Allow": ", ".join(allowed)})
        return resp

    return inner


def _target(request, data: Target):
    return target(request.user, data.space, data.folder)


def _get_upload(request, upload_id: uuid.UUID) -> Upload:
    upload = Upload.objects.filter(pk=upload_id, user=request.user).select_related("space", "folder").first()
    if upload is None:
        raise Http404
    return upload


def _content_length(request) -> int:
    if request.META.get("HTTP_TRANSFER_ENCODING"):
        raise actions.FilesError("Send the size in Content-Length (chunked bodies are not accepted).", 411)
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        raise actions.FilesError("Content-Length is required.", 411)
    try:
        return int(length)
    except ValueError:
        raise actions.FilesError("Content-Length must be a number.") from None


def _node(request, kind: Kind, node_id: int, need):
    if kind == "files":
        return access.get_file(request.user, node_id, need)
    return access.get_folder(request.user, node_id, need)


def _patch(request, node, data: NodePatch):
    given = data.model_fields_set
    if "folder" in given or "space" in given:
        if data.folder is None and "space" not in given:
            space, folder = node.space, None
        else:
            space, folder = _target(request, data)
        actions.move(request.user, node, space, folder, address=client_address(request))
    if "name" in given:
        actions.rename(request.user, node, data.name, address=client_address(request))
    return node


# --- endpoints ---------------------------------------------------------------------------------------
@api.get("/", response={200: SpacesOut, **ERRORS}, url_name="api-spaces", summary="Your spaces and quota")
def spaces(request):
    return {
        "spaces": [space_json(s) for s in actions.spaces_for(request.user)],
        "quota": {"limit": actions.quota_bytes(request.user), "used": actions.used_bytes(request.user)},
    }


@api.get(
    "/search", response={200: FilesOut, **ERRORS}, url_name="api-search", summary="Find files you may read"
)
def search(request, q: str = ""):
    return {"files": [file_json(f) for f in actions.search(request.user, q)]}


@api.get(
    "/spaces/{space_id}/",
    response={200: ListingOut, **ERRORS},
    url_name="api-space",
    summary="List a space's root or one of its folders",
)
def space_listing(request, space_id: Id, folder: Id | None = None, page: Page = 1):
    space = access.get_space(request.user, space_id)
    node = access.get_folder(request.user, folder) if folder is not None else None
    if node is not None and node.space_id != space.id:
        raise Http404
    folders, files = actions.listing(space, node)
    page = max(page, 1)
    start = (page - 1) * PAGE_SIZE
    return {
        "space": space_json(space),
        "folder": folder_json(node) if node else None,
        "folders": [folder_json(f) for f in folders[start : start + PAGE_SIZE]],
        "files": [file_json(f) for f in files[start : start + PAGE_SIZE]],
        "page": page,
    }


@api.post(
    "/spaces/{space_id}/trash/empty",
    response={200: PurgedOut, **ERRORS},
    url_name="api-empty-trash",
    summary="Delete the space's trash for good",
)
def empty_trash(request, space_id: Id):
    space = access.get_space(request.user, space_id, access.WRITE)
    return {"purged": actions.empty_trash(request.user, space, address=client_address(request))}


@api.post("/folders", response={201: FolderOut, **ERRORS}, url_name="api-folders", summary="Create a folder")
def folders(request, data: FolderIn):
    space, parent = _target(request, data)
    return 201, folder_json(actions.create_folder(request.user, space, parent, data.name))


@api.get(
    "/folders/{folder_id}", response={200: FolderOut, **ERRORS}, url_name="api-folder", summary="A folder"
)
def folder_detail(request, folder_id: Id):
    return folder_json(access.get_folder(request.user, folder_id))


@api.patch("/folders/{folder_id}", response={200: FolderOut, **ERRORS}, summary="Rename or move a folder")
def folder_patch(request, folder_id: Id, data: NodePatch):
    folder = access.get_folder(request.user, folder_id, access.WRITE)
    return folder_json(_patch(request, folder, data))


@api.delete("/folders/{folder_id}", response={204: None, **ERRORS}, summary="Move a folder to the trash")
def folder_delete(request, folder_id: Id):
    folder = access.get_folder(request.user, folder_id, access.TRASH)
    actions.trash(request.user, folder, address=client_address(request))
    return HttpResponse(status=204)


@api.post(
    "/folders/{folder_id}/restore",
    response={200: FolderOut, **ERRORS},
    url_name="api-folder-restore",
    summary="Restore a folder from the trash",
)
def folder_restore(request, folder_id: Id):
    folder = access.get_folder(request.user, folder_id, access.RESTORE, trashed=True)
    actions.restore(request.user, folder, address=client_address(request))
    return folder_json(folder)


@api.get(
    "/files/{file_id}", response={200: FileOut, **ERRORS}, url_name="api-file", summary="A file's metadata"
)
def file_detail(request, file_id: Id):
    return file_json(access.get_file(request.user, file_id))


@api.patch("/files/{file_id}", response={200: FileOut, **ERRORS}, summary="Rename or move a file")
def file_patch(request, file_id: Id, data: NodePatch):
    f = access.get_file(request.user, file_id, access.WRITE)
    return file_json(_patch(request, f, data))


@api.delete("/files/{file_id}", response={204: None, **ERRORS}, summary="Move a file to the trash")
def file_delete(request, file_id: Id):
    f = access.get_file(request.user, file_id, access.TRASH)
    actions.trash(request.user, f, address=client_address(request))
    return HttpResponse(status=204)


@api.api_operation(
    ["GET", "HEAD"],
    "/files/{file_id}/content",
    response={302: None, **ERRORS},
    url_name="api-file-content",
    summary="Download: a redirect to the bytes on the content host (Range supported there)",
    openapi_extra={
        "responses": {
            "302": {
                "description": "The bytes are at Location, a signed URL on the content host valid for "
                "5 minutes (no cookie or token needed there; Range supported)",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
            },
        }
    },
)
def file_content(request, file_id: Id):
    f = access.get_file(request.user, file_id, access.DOWNLOAD)
    return download_response(actions.download_target(request.user, f, address=client_address(request)))


@api.post(
    "/files/{file_id}/restore",
    response={200: FileOut, **ERRORS},
    url_name="api-file-restore",
    summary="Restore a file from the trash",
)
def file_restore(request, file_id: Id):
    f = access.get_file(request.user, file_id, access.RESTORE, trashed=True)
    actions.restore(request.user, f, address=client_address(request))
    return file_json(f)


@api.post(
    "/{kind}/{node_id}/shares",
    response={201: ShareOut, **ERRORS},
    url_name="api-shares",
    summary="Share with a person or a group",
)
def shares(request, kind: Kind, node_id: Id, data: ShareIn):
    node = _node(request, kind, node_id, access.SHARE)
    s = actions.share(
        request.user,
        node,
        username=data.username,
        group=data.group,
        permission=data.permission,
        address=client_address(request),
    )
    return 201, {
        "id": s.id,
        "permission": s.permission,
        "user": s.user.username if s.user else None,
        "group": s.group.name if s.group else None,
    }


@api.post(
    "/{kind}/{node_id}/links",
    response={201: LinkOut, **ERRORS},
    url_name="api-links",
    summary="Create a public link",
)
def links(request, kind: Kind, node_id: Id, data: LinkIn):
    node = _node(request, kind, node_id, access.CREATE_LINK)
    link = actions.create_link(
        request.user,
        node,
        expires_in_days=data.expires_in_days,
        password=data.password,
        max_downloads=data.max_downloads,
        address=client_address(request),
    )
    return 201, {
        "id": link.id,
        "url": request.build_absolute_uri(reverse("files:public", args=[link.token])),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "max_downloads": link.max_downloads,
    }


@api.delete(
    "/shares/{share_id}", response={204: None, **ERRORS}, url_name="api-share", summary="Remove a share"
)
def share_detail(request, share_id: Id):
    actions.unshare(request.user, access.get_share(request.user, share_id), address=client_address(request))
    return HttpResponse(status=204)


@api.delete(
    "/links/{link_id}", response={204: None, **ERRORS}, url_name="api-link", summary="Revoke a public link"
)
def link_detail(request, link_id: Id):
    actions.revoke_link(request.user, access.get_link_for_owner(request.user, link_id))
    return HttpResponse(status=204)


# Byte-carrying endpoints: nginx streams these without buffering (roles/web template), and the views
# read the body from `request` as a stream (declared binary in the document, never parsed here).
@api.put(
    "/uploads/put",
    response={201: FileOut, **BYTES_ERRORS},
    url_name="api-upload-put",
    summary="Upload a file in one request (streamed to the file server)",
    openapi_extra=RAW_BODY,
)
def upload_put(
    request, name: Name, space: Id | None = None, folder: Id | None = None, conflict: Conflict = "fail"
):
    where, parent = target(request.user, space, folder)
    f = actions.upload_file(
        request.user,
        where,
        parent,
        name,
        request,
        _content_length(request),
        request.META.get("CONTENT_TYPE") or "",
        rename=conflict == "rename",
        address=client_address(request),
    )
    return 201, file_json(f)


@api.post(
    "/uploads/form",
    response={201: FilesOut, **BYTES_ERRORS},
    url_name="api-upload-form",
    summary="Upload files as multipart/form-data (one or more file parts)",
    openapi_extra=FORM_BODY,
)
def upload_form(request, space: Id | None = None, folder: Id | None = None, conflict: Conflict = "fail"):
    from . import multipart

    where, parent = target(request.user, space, folder)
    actions.admit_form_upload(request.user, where, parent, _content_length(request))
    _fields, stored, _handler = multipart.parse(request)
    files = actions.register_uploaded(
        request.user, where, parent, stored, rename=conflict == "rename", address=client_address(request)
    )
    return 201, {"files": [file_json(f) for f in files]}


@api.post(
    "/uploads/",
    response={201: UploadOut, **ERRORS},
    url_name="api-uploads",
    summary="Open a resumable upload; send parts next",
)
def uploads(request, data: UploadIn):
    space, folder = _target(request, data)
    upload = actions.begin_upload(
        request.user,
        space,
        folder,
        data.name,
        data.size,
        (data.content_type or "application/octet-stream")[:255],
    )
    return 201, upload_json(upload, {})


@api.get(
    "/uploads/{upload_id}",
    response={200: UploadOut, **ERRORS},
    url_name="api-upload",
    summary="Parts received so far (to resume)",
)
def upload_detail(request, upload_id: uuid.UUID):
    upload = _get_upload(request, upload_id)
    return upload_json(upload, actions.upload_parts(upload))


@api.delete("/uploads/{upload_id}", response={204: None, **ERRORS}, summary="Cancel the upload")
def upload_cancel(request, upload_id: uuid.UUID):
    actions.cancel_upload(_get_upload(request, upload_id))
    return HttpResponse(status=204)


@api.put(
    "/uploads/{upload_id}/parts/{number}",
    response={200: PartOut, **BYTES_ERRORS},
    url_name="api-upload-part",
    summary="Send part NUMBER (1-based; each part_size bytes, the last one the rest)",
    openapi_extra=RAW_BODY,
)
def upload_part(request, upload_id: uuid.UUID, number: PartNumber):
    upload = _get_upload(request, upload_id)
    actions.put_upload_part(upload, number, request, _content_length(request))
    return {"part": number}


@api.post(
    "/uploads/{upload_id}/complete",
    response={201: FileOut, **ERRORS},
    url_name="api-upload-complete",
    summary="Join the parts; the file exists from now on",
)
def upload_complete(request, upload_id: uuid.UUID):
    upload = _get_upload(request, upload_id)
    return 201, file_json(actions.complete_upload(upload, rename=True, address=client_address(request)))


def urlpatterns():
    """Return the API's URL patterns, to include under api/files/ (each answers 405 in JSON)."""
    patterns, seen = [], set()
    for p in api.urls[0]:
        if not isinstance(p, URLPattern):
            continue
        route = str(p.pattern)
        # ninja adds one pattern per operation of a path (all the same view) and a root placeholder.
        if route in seen or p.name == "api-root":
            continue
        seen.add(route)
        p.callback = json_405(p.callback)
        if p.name == "openapi-json":
            p.name = "api-openapi"
        patterns.append(p)
    return patterns
