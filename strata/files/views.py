"""HTML pages for files. Writes go through actions; permission lookups through access."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from strata.site.live import cached
from strata.site.page_cache import render_page

from . import access, actions, link_session
from .http import client_address, content_response, download_response, int_param, target
from .models import File, Folder
from .rows import empty_row, folder_rows

PAGE_SIZE = 50


@login_required
@require_safe
def home(request):
    actions.spaces_for(request.user)  # make the group spaces the person can use, once
    return redirect("files:space", space_id=actions.personal_space(request.user).id)


@login_required
@require_safe
def space(request, space_id, folder_id=None):
    if folder_id is not None:
        try:
            folder = access.get_folder_to_read(request.user, folder_id)
        except Http404:
            return _unavailable(request, Folder, folder_id)
        if folder.space_id != space_id:
            return _unavailable(request, Folder, folder_id)
        return _browse(request, folder.space, folder, access.role_on(request.user, folder))
    space = access.get_space(request.user, space_id)
    return _browse(request, space, None, access.space_role_name(request.user, space))


@login_required
@require_safe
def folder(request, folder_id):
    """A folder reached through a share (or its own space): list its contents."""
    try:
        f = access.get_folder_to_read(request.user, folder_id)
    except Http404:
        return _unavailable(request, Folder, folder_id)
    return _browse(request, f.space, f, access.role_on(request.user, f))


def _unavailable(request, model, node_id):
    """A clear page for a file or folder that cannot be opened: 410 for one in the trash (to someone who
    could open it otherwise, with the way to the trash when they may restore it), else 404 whether it was
    moved away, unshared, deleted for good or never existed (existence is not revealed)."""
    what = "file" if model is File else "folder"
    node = model.objects.select_related("space").filter(pk=node_id).first()
    role = access.role_on(request.user, node) if node is not None else None
    if node is not None and role is not None and access.hidden(node):
        can_restore = access.allows(role, access.RESTORE) and access.space_role_name(request.user, node.space)
        if can_restore:
            back, label = reverse("files:trash", args=[node.space_id]), "Open the trash to restore it"
        else:
            back, label = reverse("files:home"), "Back to your files"
        message = (
            f"“{node.name}” is in the trash{'' if node.trashed_at else ' (a folder above it is)'}, "
            "so it cannot be opened."
        )
        return _gone_page(request, f"This {what} is in the trash", message, back, label, 410)
    message = (
        f"This {what} is not available to you: it may have been moved somewhere you cannot see, "
        "no longer be shared with you, or have been deleted for good."
    )
    return _gone_page(
        request, f"This {what} is not available", message, reverse("files:home"), "Back to your files", 404
    )


def _gone_page(request, title, message, back, label, status):
    return render(
        request,
        "files/error.html",
        {"title": title, "message": message, "back": back, "back_label": label},
        status=status,
    )


def _browse(request, space, folder, role):
    """One page of a folder. No COUNT over the folder: a page holds PAGE_SIZE rows and "next" shows
    when one more exists, so the first page of a huge folder costs the same as of a small one."""
    try:
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        page = 1
    if page == 1:
        # The first page's rows from the live cache: they are the same for everyone who may open the
        # folder, and a change to anything directly inside it drops them in every app process.
        place = str(folder.id) if folder is not None else f"s{space.id}"
        rows, has_next = cached("fr", place, lambda: _rows(space, folder, page))
    else:
        rows, has_next = _rows(space, folder, page)
    # What the page shows besides the folder: from the live cache (the figures change far less often than
    # pages are shown; a change drops them in every app process). Uploads check the quota afresh.
    user, key = request.user, str(request.user.pk)
    limit, used = cached("q", key, lambda: actions.quota_status(user))
    # Jinja2 (strata/site/jinja.py), kept rendered for the same inputs (strata/site/page_cache.py).
    return render_page(
        request,
        "files/browse.jinja",
        {
            "space": space,
            "folder": folder,
            "crumbs": list(reversed(access.ancestors(folder))),
            "rows": rows or empty_row(access.allows(role, access.UPLOAD)),
            "page": page,
            "has_next": has_next,
            "can": access.can(role),
            "spaces": cached("sp", key, lambda: actions.nav_spaces(user)),
            "quota": {"limit": limit, "used": used},
            "max_upload": actions.max_upload_bytes(),
        },
    )


def _rows(space, folder, page):
    """Return the rows of PAGE of FOLDER (or the space's root) as HTML, "" when it is empty, and whether
    a next page exists."""
    folders, files = actions.listing(space, folder)
    start = (page - 1) * PAGE_SIZE
    found = list(files.only("id", "name", "updated_at", "size")[start : start + PAGE_SIZE + 1])
    shown = folder_rows(
        list(folders.only("id", "name", "updated_at")) if page == 1 else [], found[:PAGE_SIZE]
    )
    return shown, len(found) > PAGE_SIZE


@login_required
@require_safe
def file(request, file_id):
    try:
        f = access.get_file(request.user, file_id)
    except Http404:
        return _unavailable(request, File, file_id)
    can = access.can(access.role_on(request.user, f))
    return render(
        request,
        "files/file.html",
        {
            "file": f,
            "crumbs": list(reversed(access.ancestors(f.folder))),
            "can": can,
            "preview": actions.preview(f) if can["download"] else None,
        },
    )


@never_cache
@login_required
@require_safe
def download(request, file_id):
    try:
        f = access.get_file(request.user, file_id, access.DOWNLOAD)
    except Http404:
        return _unavailable(request, File, file_id)
    inline = request.GET.get("inline") == "1"
    try:
        url = actions.download_target(request.user, f, inline=inline, address=client_address(request))
    except actions.FilesError as exc:
        return render(request, "files/error.html", {"message": str(exc)}, status=exc.status)
    return download_response(url)


@never_cache
@require_safe
def content(request, token):
    """The content host's one view: a signed URL the site handed out answers the bytes (through nginx's
    internal location); any other host, or a token expired or not ours, gets a plain-text refusal."""
    if request.get_host().rsplit(":", 1)[0].lower() != settings.STRATA_CONTENT_HOST.lower():
        raise Http404
    try:
        uri, content_type, disposition = actions.content_target(token)
    except actions.FilesError as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
    return content_response(uri, content_type, disposition)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def public(request, token):
    """A public link: no login; an optional password (wrong ones limited per address); 410 once expired,
    used up or trashed; HEAD counts no download."""
    try:
        link = actions.get_link(token)
        posted = _posted_password(request)
        # A password sent is always checked (and counted by the limit), cookie or not.
        remembered = not posted and link_session.is_open(request, link)
        opened = remembered or actions.check_link_password(link, posted, client_address(request))
    except actions.FilesError as exc:
        return _error(request, exc)
    node = link.file or link.folder
    if not opened:
        status = 403 if request.method == "POST" else 200
        return render(
            request,
            "files/link_password.html",
            {"link": link, "node": node, "failed": request.method == "POST"},
            status=status,
        )
    if link.folder is not None:
        folders, files = actions.listing(link.folder.space, link.folder)
        resp = render(
            request, "files/public_folder.html", {"link": link, "folder": link.folder, "files": files}
        )
    elif request.method == "GET" and request.GET.get("download") != "1" and not link.password:
        return render(request, "files/public_file.html", {"link": link, "file": link.file})
    else:
        resp = _public_download(request, link, link.file)
    if not remembered and resp.status_code in (200, 302):  # a folder's page, or a file's bytes
        link_session.remember(request, resp, link)  # the password was just entered right
    return resp


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def public_file(request, token, file_id):
    """One file of a publicly linked folder."""
    try:
        link = actions.get_link(token)
        posted = _posted_password(request)
        opened = (not posted and link_session.is_open(request, link)) or actions.check_link_password(
            link, posted, client_address(request)
        )
    except actions.FilesError as exc:
        return _error(request, exc)
    if link.folder is None:
        raise Http404
    if not opened:
        # The password was not entered on this link's page (or that was over an hour ago): ask there.
        return redirect("files:public", token=token)
    f = access.get_file_in_tree(link.folder, file_id)
    return _public_download(request, link, f)


def _posted_password(request) -> str:
    return request.POST.get("password", "") if request.method == "POST" else ""


def _error(request, exc):
    title = "This link no longer works" if exc.status == 410 else "File unavailable"
    return render(request, "files/error.html", {"title": title, "message": str(exc)}, status=exc.status)


def _public_download(request, link, f):
    try:
        url = actions.serve_link_file(link, f, head=request.method == "HEAD", address=client_address(request))
    except actions.FilesError as exc:
        return _error(request, exc)
    return download_response(url)


# --- form handlers (progressive enhancement: the same actions as the API) ----------------------------


def _node_for(request, kind, node_id, need=access.WRITE, trashed=False):
    if kind == "files":
        return access.get_file(request.user, node_id, need, trashed)
    if kind == "folders":
        return access.get_folder(request.user, node_id, need, trashed)
    raise Http404


def _back(node):
    from .models import File

    if isinstance(node, File):
        return redirect("files:file", file_id=node.id)
    return redirect("files:folder", folder_id=node.id)


def _form_action(handler):
    """POST only; a FilesError becomes a message and a 4xx page, never a half-done change."""

    @login_required
    @require_http_methods(["POST"])
    def inner(request, *args, **kwargs):
        try:
            return handler(request, *args, **kwargs)
        except actions.FilesError as exc:
            return render(request, "files/error.html", {"message": str(exc)}, status=exc.status)

    inner.__name__ = handler.__name__
    return inner


@_form_action
def new_folder(request):
    space, parent = target(
        request.user,
        int_param(request.POST.get("space"), "space"),
        int_param(request.POST.get("folder"), "folder"),
    )
    f = actions.create_folder(request.user, space, parent, request.POST.get("name"))
    messages.success(request, f"Folder “{f.name}” created.")
    return redirect("files:folder", folder_id=f.id)


@_form_action
def share(request, kind, node_id):
    node = _node_for(request, kind, node_id, access.SHARE)
    actions.share(
        request.user,
        node,
        username=request.POST.get("username", "").strip(),
        group=request.POST.get("group", "").strip(),
        permission=request.POST.get("permission", "read"),
        address=client_address(request),
    )
    messages.success(request, f"“{node.name}” is shared.")
    return _back(node)


@_form_action
def link(request, kind, node_id):
    node = _node_for(request, kind, node_id, access.CREATE_LINK)

    def number(field):
        value = request.POST.get(field, "").strip()
        if not value:
            return None
        if not value.isdigit():
            raise actions.FilesError(f"{field.replace('_', ' ').capitalize()} must be a whole number.")
        return int(value)

    created = actions.create_link(
        request.user,
        node,
        expires_in_days=number("expires_in_days"),
        password=request.POST.get("password", ""),
        max_downloads=number("max_downloads"),
        address=client_address(request),
    )
    url = request.build_absolute_uri(reverse("files:public", args=[created.token]))
    messages.success(request, f"Public link: {url}")
    return _back(node)


@login_required
@require_http_methods(["GET", "POST"])
def move_node(request, kind, node_id):
    """The folder picker: a page listing where the person may move this file or folder (a radio button
    each: keyboard usable, no script), and the POST that moves it through actions.move."""
    try:
        node = _node_for(request, kind, node_id, access.MOVE_WITHIN)
        if request.method == "POST":
            return _move(request, node)
    except actions.FilesError as exc:
        return render(request, "files/error.html", {"message": str(exc)}, status=exc.status)
    return render(
        request,
        "files/move.html",
        {"node": node, "kind": kind, "destinations": actions.move_destinations(request.user, node)},
    )


def _move(request, node):
    space_id, _, folder_id = request.POST.get("to", "").partition(":")
    if not space_id:
        raise actions.FilesError("Choose where to move it.")
    try:
        space, folder = target(request.user, int_param(space_id, "Space"), int_param(folder_id, "Folder"))
    except Http404:
        raise actions.FilesError("That folder does not exist or you cannot put things in it.", 404) from None
    actions.move(request.user, node, space, folder, address=client_address(request))
    where = folder.name if folder else space.title
    messages.success(request, f"“{node.name}” moved to “{where}”.")
    return _back(node)


@_form_action
def unshare(request, share_id):
    share = access.get_share(request.user, share_id)
    node = share.file or share.folder
    assert node is not None  # a share names a file or a folder (database constraint)
    actions.unshare(request.user, share, address=client_address(request))
    messages.success(request, f"“{node.name}” is no longer shared with {share.user or share.group}.")
    return _back(node)


@_form_action
def revoke_link(request, link_id):
    link = access.get_link_for_owner(request.user, link_id)
    actions.revoke_link(request.user, link)
    messages.success(request, "The public link no longer works.")
    return _back(link.file or link.folder)


@_form_action
def rename_node(request, kind, node_id):
    node = _node_for(request, kind, node_id, access.RENAME)
    actions.rename(request.user, node, request.POST.get("name"), address=client_address(request))
    messages.success(request, "Renamed.")
    return _back(node)


@_form_action
def trash_node(request, kind, node_id):
    node = _node_for(request, kind, node_id, access.TRASH)
    actions.trash(request.user, node, address=client_address(request))
    messages.success(request, f"“{node.name}” moved to the trash.")
    return redirect("files:trash", space_id=node.space_id)


@_form_action
def restore_node(request, kind, node_id):
    node = _node_for(request, kind, node_id, access.RESTORE, trashed=True)
    actions.restore(request.user, node, address=client_address(request))
    messages.success(request, f"“{node.name}” restored.")
    return redirect("files:trash", space_id=node.space_id)


@_form_action
def empty_trash(request, space_id):
    space = access.get_space(request.user, space_id, access.WRITE)
    n = actions.empty_trash(request.user, space, address=client_address(request))
    messages.success(request, f"Trash emptied ({n} file(s) deleted for good).")
    return redirect("files:trash", space_id=space.id)


@login_required
@require_safe
def trash(request, space_id):
    space = access.get_space(request.user, space_id, access.WRITE)
    files, folders = actions.trashed_in(space)
    return render(
        request, "files/trash.html", {"space": space, "files": files[:500], "folders": folders[:500]}
    )


@login_required
@require_safe
def shared(request):
    return render(request, "files/shared.html", {"shares": actions.shared_with(request.user)[:500]})


@login_required
@require_safe
def search(request):
    q = request.GET.get("q", "")[:200]
    return render(request, "files/search.html", {"q": q, "results": actions.search(request.user, q)})
