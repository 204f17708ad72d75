"""The files pages as each person sees them: which controls show (driven by access.RULES), the move
folder picker, the stored parts a browser resumes from, password-protected folder links, and the pages
for something moved away, in the trash or expired.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from strata.files import access, actions, link_session
from strata.files.models import File, Folder, Share
from tests.app.test_files_sharing import build, cast, put, snapshot  # noqa: F401 (cast: a fixture)

pytestmark = pytest.mark.django_db

ROLES = [access.OWNER, access.MEMBER, access.WRITER, access.READER]


def _file_controls(f: File) -> dict[str, str]:
    """Return {template name of an action: the markup of its control on the file page}."""
    return {
        "share": f'action="/files/files/{f.id}/share"',
        "create_link": f'action="/files/files/{f.id}/link"',
        "rename": f'action="/files/files/{f.id}/rename"',
        "move": f'href="/files/files/{f.id}/move"',
        "trash": f'action="/files/files/{f.id}/trash"',
        "unshare": 'action="/files/shares/',
    }


def _folder_controls(folder: Folder) -> dict[str, str]:
    """Return {template name of an action: the markup of its control on the folder page}."""
    return {
        "upload": 'id="upload"',
        "share": f'action="/files/folders/{folder.id}/share"',
        "create_link": f'action="/files/folders/{folder.id}/link"',
        "rename": f'action="/files/folders/{folder.id}/rename"',
        "move": f'href="/files/folders/{folder.id}/move"',
        "trash": f'action="/files/folders/{folder.id}/trash"',
    }


@pytest.mark.parametrize("role", ROLES)
def test_pages_show_exactly_the_controls_the_table_allows(cast, client, role):  # noqa: F811
    w = build(cast, role)
    client.force_login(w.actor)
    assert access.role_on(w.actor, w.a) == role
    page = client.get(f"/files/file/{w.a.id}/").content.decode()
    for action, marker in _file_controls(w.a).items():
        assert (marker in page) == access.can(role)[action], (role, action)
    page = client.get(f"/files/folder/{w.proj.id}/").content.decode()
    for action, marker in _folder_controls(w.proj).items():
        assert (marker in page) == access.can(role)[action], (role, action)
    assert ("can read this folder but not change it" in page) == (role == access.READER)


def _picker(client, kind: str, node_id: int):
    resp = client.get(f"/files/{kind}/{node_id}/move")
    return resp, resp.content.decode()


def test_owner_picker_lists_the_space_and_their_other_spaces_and_moves(cast, client):  # noqa: F811
    w = build(cast, access.OWNER)
    client.force_login(w.actor)
    resp, page = _picker(client, "files", w.a.id)
    assert resp.status_code == 200
    values = {d.value: d for d in actions.move_destinations(w.actor, w.a)}
    assert set(values) == {
        f"{w.space.id}:",
        f"{w.space.id}:{w.proj.id}",
        f"{w.space.id}:{w.sub.id}",
        f"{w.elsewhere.id}:",
    }
    assert values[f"{w.space.id}:{w.proj.id}"].current  # where it is now: shown, not choosable
    assert "My files / proj / sub" in page
    assert "(where it is now)" in page
    resp = client.post(f"/files/files/{w.a.id}/move", {"to": f"{w.space.id}:{w.sub.id}"})
    assert resp.status_code == 302
    assert File.objects.get(pk=w.a.pk).folder_id == w.sub.id
    # Out of the space, into the group's root: the owner may.
    resp = client.post(f"/files/files/{w.a.id}/move", {"to": f"{w.elsewhere.id}:"})
    assert resp.status_code == 302
    a = File.objects.get(pk=w.a.pk)
    assert (a.space_id, a.folder_id) == (w.elsewhere.id, None)


def test_folder_picker_leaves_out_the_folder_and_what_is_below_it(cast, client):  # noqa: F811
    w = build(cast, access.OWNER)
    client.force_login(w.actor)
    other = actions.create_folder(w.actor, w.space, None, "other")
    values = {d.value for d in actions.move_destinations(w.actor, w.proj)}
    assert values == {f"{w.space.id}:", f"{w.space.id}:{other.id}"}  # folders stay in their space
    before = snapshot()
    resp = client.post(f"/files/folders/{w.proj.id}/move", {"to": f"{w.space.id}:{w.sub.id}"})
    assert resp.status_code == 400
    assert "cannot be moved into itself" in resp.content.decode()
    assert snapshot() == before
    resp = client.post(f"/files/folders/{w.proj.id}/move", {"to": f"{w.space.id}:{other.id}"})
    assert resp.status_code == 302
    assert Folder.objects.get(pk=w.proj.pk).parent_id == other.id


def test_write_sharer_picker_lists_only_the_shared_folders(cast, client):  # noqa: F811
    w = build(cast, access.WRITER)
    client.force_login(w.actor)
    resp, page = _picker(client, "files", w.a.id)
    assert resp.status_code == 200
    paths = [d.path for d in actions.move_destinations(w.actor, w.a)]
    assert paths == ["Shared with me / proj", "Shared with me / proj / sub"]
    assert "My files" not in page  # nothing of the owner's above the shared folder
    before = snapshot()
    # The owner's root is not offered; posted anyway it is refused, and nothing changes.
    resp = client.post(f"/files/files/{w.a.id}/move", {"to": f"{w.space.id}:"})
    assert resp.status_code == 404
    assert "cannot put things in it" in resp.content.decode()
    # Their own space: moving out is the owner's alone.
    resp = client.post(f"/files/files/{w.a.id}/move", {"to": f"{w.elsewhere.id}:"})
    assert resp.status_code == 403
    assert "Only the owner" in resp.content.decode()
    resp = client.post(f"/files/files/{w.a.id}/move", {"to": ""})
    assert resp.status_code == 400
    assert "Choose where" in resp.content.decode()
    assert snapshot() == before
    resp = client.post(f"/files/files/{w.a.id}/move", {"to": f"{w.space.id}:{w.sub.id}"})
    assert resp.status_code == 302
    assert File.objects.get(pk=w.a.pk).folder_id == w.sub.id


def test_read_sharer_gets_no_picker(cast, client):  # noqa: F811
    w = build(cast, access.READER)
    client.force_login(w.actor)
    before = snapshot()
    for method in (client.get, client.post):
        resp = method(f"/files/files/{w.a.id}/move", {"to": f"{w.space.id}:{w.sub.id}"})
        assert resp.status_code == 403
        assert "not move it" in resp.content.decode()
    assert snapshot() == before


def test_upload_reports_stored_parts_with_their_checksums(cast, client):  # noqa: F811
    w = build(cast, access.OWNER)
    client.force_login(w.actor)
    size = actions.part_bytes() + 10
    up = actions.begin_upload(w.actor, w.space, w.proj, "big.bin", size)
    first = b"p" * actions.part_bytes()
    actions.put_upload_part(up, 1, io.BytesIO(first), len(first))
    data = client.get(f"/api/files/uploads/{up.id}").json()
    assert data["received"] == [1]
    assert data["stored"] == [{"number": 1, "size": len(first), "sha256": hashlib.sha256(first).hexdigest()}]
    # Sent again with other bytes: the checksum follows what the server now holds.
    actions.put_upload_part(up, 1, io.BytesIO(b"q" * len(first)), len(first))
    data = client.get(f"/api/files/uploads/{up.id}").json()
    assert data["stored"][0]["sha256"] == hashlib.sha256(b"q" * len(first)).hexdigest()
    actions.put_upload_part(up, 2, io.BytesIO(b"0123456789"), 10)
    assert [p["number"] for p in client.get(f"/api/files/uploads/{up.id}").json()["stored"]] == [1, 2]


def test_password_folder_link_opens_each_file_after_one_password(cast):  # noqa: F811
    w = build(cast, access.OWNER)
    link = actions.create_link(w.actor, w.proj, password="correct horse")
    other = actions.create_link(w.actor, w.sub, password="correct horse")
    visitor = Client()
    file_url = f"/s/{link.token}/file/{w.a.id}"
    resp = visitor.get(file_url)
    assert resp.status_code == 302  # back to the link's page, which asks for the password
    assert resp["Location"] == f"/s/{link.token}"
    resp = visitor.post(f"/s/{link.token}", {"password": "wrong password"})
    assert resp.status_code == 403
    assert not any(c.startswith("strata_link_") for c in resp.cookies)
    resp = visitor.post(f"/s/{link.token}", {"password": "correct horse"})
    assert resp.status_code == 200
    assert "a.txt" in resp.content.decode()
    cookie = resp.cookies[f"strata_link_{link.id}"]
    assert cookie["path"] == f"/s/{link.token}"
    assert cookie["httponly"]
    assert cookie["secure"]  # like the session cookie
    assert int(cookie["max-age"]) == link_session.OPEN_SECONDS
    resp = visitor.get(file_url)  # a plain GET, as the file's link on the page makes
    assert resp.status_code == 302
    assert resp["Location"].startswith(settings.STRATA_CONTENT_ORIGIN + "/c/")
    assert visitor.get(f"/s/{link.token}").status_code == 200  # the folder page too
    # The cookie opens that link only, and a forged one opens nothing.
    visitor.cookies[f"strata_link_{other.id}"] = visitor.cookies[f"strata_link_{link.id}"].value
    assert "Password" in visitor.get(f"/s/{other.token}").content.decode()
    forged = Client()
    forged.cookies[f"strata_link_{link.id}"] = f"{link.id}:0"
    assert forged.get(file_url).status_code == 302
    # Revoked: the cookie no longer opens anything.
    actions.revoke_link(w.actor, link)
    assert visitor.get(file_url).status_code == 404


def test_trashed_item_gives_a_clear_410_page(cast, client):  # noqa: F811
    w = build(cast, access.OWNER)
    client.force_login(w.actor)
    actions.trash(w.actor, w.a)
    resp = client.get(f"/files/file/{w.a.id}/")
    assert resp.status_code == 410
    page = resp.content.decode()
    assert "“a.txt” is in the trash" in page
    assert f'href="/files/space/{w.space.id}/trash/"' in page
    assert client.get(f"/files/file/{w.a.id}/download").status_code == 410
    actions.trash(w.actor, w.proj)
    resp = client.get(f"/files/folder/{w.sub.id}/")
    assert resp.status_code == 410
    assert "a folder above it is" in resp.content.decode()


def test_moved_away_or_unshared_item_gives_a_clear_404_page(cast, client):  # noqa: F811
    w = build(cast, access.WRITER)
    bob: User = w.actor  # type: ignore[assignment]
    client.force_login(bob)
    actions.move(cast["alice"], w.a, w.space, None)  # out of the folder shared with bob
    resp = client.get(f"/files/file/{w.a.id}/")
    assert resp.status_code == 404
    page = resp.content.decode()
    assert "not available to you" in page
    assert 'href="/files/"' in page
    assert "a.txt" not in page  # what bob can no longer see is not named
    Share.objects.filter(folder=w.proj, user=bob).delete()
    assert client.get(f"/files/folder/{w.proj.id}/").status_code == 404
    nothing = client.get("/files/file/987654/")
    assert nothing.status_code == 404
    assert "not available to you" in nothing.content.decode()


def test_expired_link_gives_a_clear_410_page(cast):  # noqa: F811
    import datetime as dt

    from django.utils import timezone

    w = build(cast, access.OWNER)
    w.link.expires_at = timezone.now() - dt.timedelta(seconds=1)
    w.link.save()
    resp = Client().get(f"/s/{w.link.token}")
    assert resp.status_code == 410
    page = resp.content.decode()
    assert "This link no longer works" in page
    assert "expired" in page
    assert 'href="/"' in page


def test_content_view_answers_on_the_content_host_only(cast, client):  # noqa: F811
    """/c/<token> hands the bytes to nginx (X-Accel-Redirect, one disposition) on the content host only; the
    site's name answers 404; the file page previews from there."""
    w = build(cast, access.OWNER)
    client.force_login(cast["alice"])
    page = client.get(f"/files/file/{w.a.id}/")
    assert settings.STRATA_CONTENT_ORIGIN + "/c/" not in page.content.decode()  # octet-stream: no preview
    File.objects.filter(pk=w.a.pk).update(content_type="text/plain")
    page = client.get(f"/files/file/{w.a.id}/")
    assert page.status_code == 200
    assert '<iframe src="' + settings.STRATA_CONTENT_ORIGIN + "/c/" in page.content.decode()  # text preview
    url = client.get(f"/files/file/{w.a.id}/download?inline=1")["Location"]
    path = url.removeprefix(settings.STRATA_CONTENT_ORIGIN)
    anonymous = Client()
    assert anonymous.get(path).status_code == 404  # not on the site's name
    resp = anonymous.get(path, HTTP_HOST=settings.STRATA_CONTENT_HOST)
    assert resp.status_code == 200
    assert resp["X-Accel-Redirect"] == f"/_files_local/{w.a.key[:2]}/{w.a.key}"
    assert resp["Content-Disposition"].startswith("inline;")
    assert not resp.cookies
    refused = anonymous.get(path[:-3] + "abc", HTTP_HOST=settings.STRATA_CONTENT_HOST)
    assert refused.status_code == 403
    assert refused["Content-Type"] == "text/plain; charset=utf-8"
