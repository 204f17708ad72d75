"""The sharing table (access.RULES), one test per cell, through the paths people use: the JSON API with a
session, the file page, and the public link pages. Then the rules around it: uploads re-checked at every
part and at completion, a trashed folder hiding its subtree, HEAD on a link, and link passwords.

Each cell: an allowed action succeeds and has its effect; a refused one answers 4xx and changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from strata.files import access, actions
from strata.files.errors import FilesError
from strata.files.models import File, Folder, LinkPasswordTry, PublicLink, Share, Space, Upload
from strata.files.storage import backend

pytestmark = pytest.mark.django_db


@dataclass
class World:
    actor: User | None  # None: someone holding a public link
    space: Space  # where the nodes are
    proj: Folder  # shared with the write- and read-sharer
    sub: Folder  # inside proj
    a: File  # proj/a.txt
    old: File  # proj/old.txt, in the trash
    other_share: Share  # a share of a.txt with erin (to remove)
    link: PublicLink  # a live link to a.txt (its token is what "see link tokens" is about)
    elsewhere: Space  # a space the actor may write to, outside SPACE (for "move out")


def put(user, name, data, space, folder=None) -> File:
    return actions.upload_file(user, space, folder, name, io.BytesIO(data), len(data))


@pytest.fixture
def cast(db):
    """Alice owns a personal space; Bob has a write share and Carol a read share on its folder "proj";
    Dave and Alice are members of the group "team"; Erin is someone to share with."""
    users = {
        n: User.objects.create_user(n, f"{n}@example.org", f"pw-{n}")
        for n in ("alice", "bob", "carol", "dave", "erin")
    }
    team = Group.objects.create(name="team")
    team.user_set.add(users["alice"], users["dave"])
    return users


def build(cast, role: str) -> World:
    alice, dave = cast["alice"], cast["dave"]
    if role == access.MEMBER:
        owner, space = (
            dave,
            Space.objects.get_or_create(kind=Space.GROUP, group=Group.objects.get(name="team"))[0],
        )
    else:
        owner, space = alice, actions.personal_space(alice)
    proj = actions.create_folder(owner, space, None, "proj")
    sub = actions.create_folder(owner, space, proj, "sub")
    a = put(owner, "a.txt", b"alpha", space, proj)
    old = put(owner, "old.txt", b"old", space, proj)
    actions.trash(owner, old)
    if space.kind == Space.PERSONAL:
        actions.share(alice, proj, username="bob", permission=Share.WRITE)
        actions.share(alice, proj, username="carol", permission=Share.READ)
    other = actions.share(owner, a, username="erin")
    link = actions.create_link(owner, a)
    actor = {
        access.OWNER: alice,
        access.MEMBER: dave,
        access.WRITER: cast["bob"],
        access.READER: cast["carol"],
        access.PUBLIC: None,
    }[role]
    if role == access.OWNER:
        elsewhere = Space.objects.get_or_create(kind=Space.GROUP, group=Group.objects.get(name="team"))[0]
    else:
        elsewhere = actions.personal_space(actor or cast["erin"])
    for n in (proj, sub, a, old):
        n.refresh_from_db()
    return World(actor, space, proj, sub, a, old, other, link, elsewhere)


def snapshot():
    """Return everything an action could change, to compare before and after a refusal."""
    return (
        sorted(File.objects.values_list("id", "name", "space_id", "folder_id", "trashed_at")),
        sorted(Folder.objects.values_list("id", "name", "space_id", "parent_id", "trashed_at")),
        sorted(Share.objects.values_list("id", "file_id", "folder_id", "user_id", "permission")),
        sorted(PublicLink.objects.values_list("id", "revoked", "downloads")),
    )


def do(client: Client, w: World, action: str):
    """Try ACTION as W's actor through the API (or the page that shows link tokens); return the response."""
    api = "/api/files"
    if action == access.VIEW:
        return client.get(f"{api}/files/{w.a.id}")
    if action == access.DOWNLOAD:
        return client.get(f"{api}/files/{w.a.id}/content")
    if action == access.UPLOAD:
        return client.put(
            f"{api}/uploads/put?name=new.txt&folder={w.proj.id}", b"new", content_type="text/plain"
        )
    if action == access.RENAME:
        return client.patch(f"{api}/files/{w.a.id}", {"name": "renamed.txt"}, content_type="application/json")
    if action == access.MOVE_WITHIN:
        return client.patch(f"{api}/files/{w.a.id}", {"folder": w.sub.id}, content_type="application/json")
    if action == access.MOVE_OUT:
        return client.patch(
            f"{api}/files/{w.a.id}", {"space": w.elsewhere.id}, content_type="application/json"
        )
    if action == access.TRASH:
        return client.delete(f"{api}/files/{w.a.id}")
    if action == access.RESTORE:
        return client.post(f"{api}/files/{w.old.id}/restore")
    if action == access.SHARE:
        return client.post(
            f"{api}/files/{w.a.id}/shares", {"username": "carol"}, content_type="application/json"
        )
    if action == access.UNSHARE:
        return client.delete(f"{api}/shares/{w.other_share.id}")
    if action == access.CREATE_LINK:
        return client.post(f"{api}/files/{w.a.id}/links", {}, content_type="application/json")
    assert action == access.SEE_LINKS
    return client.get(f"/files/file/{w.a.id}/")


def to_content_host(resp) -> bool:
    """Return whether RESP sends the person to the bytes: a redirect to a signed URL on the content host."""
    return resp.status_code == 302 and resp["Location"].startswith(settings.STRATA_CONTENT_ORIGIN + "/c/")


def took_effect(w: World, action: str, resp) -> bool:
    """Return whether the allowed ACTION did what it says."""
    a = File.objects.get(pk=w.a.pk)
    return {
        access.VIEW: lambda: resp.json()["name"] == "a.txt",
        access.DOWNLOAD: lambda: to_content_host(resp),
        access.UPLOAD: lambda: File.objects.filter(name="new.txt", folder=w.proj).exists(),
        access.RENAME: lambda: a.name == "renamed.txt",
        access.MOVE_WITHIN: lambda: a.folder_id == w.sub.id,
        access.MOVE_OUT: lambda: (a.space_id, a.folder_id) == (w.elsewhere.id, None),
        access.TRASH: lambda: a.trashed_at is not None,
        access.RESTORE: lambda: File.objects.get(pk=w.old.pk).trashed_at is None,
        access.SHARE: lambda: Share.objects.filter(file=a, user__username="carol").exists(),
        access.UNSHARE: lambda: not Share.objects.filter(pk=w.other_share.pk).exists(),
        access.CREATE_LINK: lambda: PublicLink.objects.filter(file=a).count() == 2,
        access.SEE_LINKS: lambda: w.link.token in resp.content.decode(),
    }[action]()


CELLS = [(role, action) for role in access.ROLES if role != access.PUBLIC for action in access.ACTIONS]


@pytest.mark.parametrize(("role", "action"), CELLS)
def test_sharing_table_cell(cast, client, role, action):
    w = build(cast, role)
    client.force_login(w.actor)
    before = snapshot()
    resp = do(client, w, action)
    if access.allows(role, action):
        assert resp.status_code < 300 or action == access.DOWNLOAD, resp.content
        assert took_effect(w, action, resp)
    elif action == access.SEE_LINKS:
        assert resp.status_code == 200  # the page shows, without the tokens
        assert w.link.token not in resp.content.decode()
    else:
        assert resp.status_code == 403, resp.content
        assert resp.json()["error"]
        assert snapshot() == before


@pytest.mark.parametrize("action", access.ACTIONS)
def test_sharing_table_public_link_cell(cast, client, action):
    """Someone holding a link may view and download what it points to, and nothing else: every other
    path needs a login (the API answers 401, the page sends to the login form) and changes nothing."""
    w = build(cast, access.PUBLIC)
    path = f"/s/{w.link.token}"
    before = snapshot()
    if action == access.VIEW:
        resp = client.get(path)
        assert resp.status_code == 200
        assert "a.txt" in resp.content.decode()
    elif action == access.DOWNLOAD:
        resp = client.get(path + "?download=1")
        assert to_content_host(resp)
        assert PublicLink.objects.get(pk=w.link.pk).downloads == 1
    else:
        assert not access.allows(access.PUBLIC, action)
        resp = do(client, w, action)
        assert resp.status_code in (302, 401)
        assert w.link.token not in resp.content.decode()
        assert snapshot() == before


def test_readme_prints_the_table():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert access.table_markdown() in readme


def test_actions_refuse_a_write_sharer_taking_a_file_out(cast):
    """The actions check the table themselves, whatever path calls them."""
    w = build(cast, access.WRITER)
    bob = cast["bob"]
    with pytest.raises(FilesError) as refused:
        actions.move(bob, w.a, actions.personal_space(bob), None)
    assert refused.value.status == 403
    for verb in (
        lambda: actions.share(bob, w.a, username="erin"),
        lambda: actions.unshare(bob, w.other_share),
        lambda: actions.create_link(bob, w.a),
        lambda: actions.revoke_link(bob, w.link),
    ):
        with pytest.raises(FilesError, match="Only the owner"):
            verb()
    assert File.objects.get(pk=w.a.pk).space_id == w.space.id


# --- uploads: write access at every part and at completion -------------------------------------------------


def test_upload_part_refused_once_the_share_is_withdrawn(cast):
    w = build(cast, access.WRITER)
    bob = cast["bob"]
    up = actions.begin_upload(bob, w.space, w.proj, "big.bin", 10)
    actions.put_upload_part(up, 1, io.BytesIO(b"0123456789"), 10)
    Share.objects.filter(folder=w.proj, user=bob).delete()
    with pytest.raises(FilesError, match="no longer") as refused:
        actions.put_upload_part(up, 1, io.BytesIO(b"0123456789"), 10)
    assert refused.value.status == 403
    assert not Upload.objects.filter(pk=up.pk).exists()  # cancelled: its reservation is freed
    assert actions.used_bytes(bob) == 0


def test_upload_completion_refused_once_the_share_is_withdrawn(cast, client):
    w = build(cast, access.WRITER)
    bob = cast["bob"]
    client.force_login(bob)
    resp = client.post(
        "/api/files/uploads/",
        {"name": "big.bin", "size": 4, "folder": w.proj.id},
        content_type="application/json",
    )
    assert resp.status_code == 201
    up = resp.json()["id"]
    resp = client.put(f"/api/files/uploads/{up}/parts/1", b"data", content_type="application/octet-stream")
    assert resp.status_code == 200
    Share.objects.filter(folder=w.proj, user=bob).update(permission=Share.READ)
    resp = client.post(f"/api/files/uploads/{up}/complete")
    assert resp.status_code == 403
    assert "no longer" in resp.json()["error"]
    assert not File.objects.filter(name="big.bin").exists()
    assert not Upload.objects.filter(pk=up).exists()


def test_upload_refused_once_the_target_folder_is_trashed(cast):
    alice = cast["alice"]
    w = build(cast, access.OWNER)
    up = actions.begin_upload(alice, w.space, w.sub, "late.bin", 3)
    actions.put_upload_part(up, 1, io.BytesIO(b"abc"), 3)
    actions.trash(alice, w.proj)  # the upload's folder is below it
    with pytest.raises(FilesError, match="trash"):
        actions.complete_upload(up)
    assert not File.objects.filter(name="late.bin").exists()


# --- a trashed folder hides everything below it ---------------------------------------------------------


def test_trashed_folder_hides_its_subtree_from_every_path(cast, client):
    alice, bob = cast["alice"], cast["bob"]
    w = build(cast, access.OWNER)
    deep = put(alice, "deep-secret.txt", b"deep", w.space, w.sub)
    sub_link = actions.create_link(alice, w.sub)
    file_link = actions.create_link(alice, deep)
    actions.share(alice, w.sub, username="erin")
    actions.trash(alice, w.proj)
    client.force_login(alice)
    api = "/api/files"
    # By id: folder, file, listing, rename, upload into, new folder.
    assert client.get(f"{api}/folders/{w.sub.id}").status_code == 404
    assert client.get(f"{api}/files/{deep.id}").status_code == 404
    assert client.get(f"{api}/spaces/{w.space.id}/?folder={w.sub.id}").status_code == 404
    page = client.get(f"/files/folder/{w.sub.id}/")  # the page says why, and opens nothing
    assert page.status_code == 410
    assert "in the trash (a folder above it is)" in page.content.decode()
    assert "deep-secret.txt" not in page.content.decode()
    rename = client.patch(f"{api}/folders/{w.sub.id}", {"name": "x"}, content_type="application/json")
    assert rename.status_code == 404
    upload = client.put(f"{api}/uploads/put?name=n.txt&folder={w.sub.id}", b"n", content_type="text/plain")
    assert upload.status_code == 404
    new = client.post(f"{api}/folders", {"name": "n", "folder": w.sub.id}, content_type="application/json")
    assert new.status_code == 404
    # Search, and what is shared with someone.
    assert client.get(f"{api}/search?q=deep-secret").json()["files"] == []
    assert list(actions.search(bob, "deep")) == []
    assert not actions.shared_with(cast["erin"]).filter(folder=w.sub).exists()
    # Public links into the trashed folder: a clear 410 page.
    for token in (sub_link.token, file_link.token):
        resp = client.get(f"/s/{token}")
        assert resp.status_code == 410
        assert "trash" in resp.content.decode()
    assert Folder.objects.get(pk=w.sub.pk).name == "sub"
    assert not File.objects.filter(name="n.txt").exists()
    # Restoring the folder brings all of it back.
    actions.restore(alice, Folder.objects.get(pk=w.proj.pk))
    assert client.get(f"{api}/files/{deep.id}").status_code == 200
    assert client.get(f"/s/{file_link.token}").status_code == 200


# --- public links: HEAD, passwords ------------------------------------------------------------------------


def test_head_on_a_public_link_counts_nothing(cast, client):
    alice = cast["alice"]
    w = build(cast, access.OWNER)
    link = actions.create_link(alice, w.a, max_downloads=1)
    for _ in range(3):
        resp = client.head(f"/s/{link.token}")
        assert to_content_host(resp)
    folder_link = actions.create_link(alice, w.proj, max_downloads=1)
    assert to_content_host(client.head(f"/s/{folder_link.token}/file/{w.a.id}"))
    assert PublicLink.objects.get(pk=link.pk).downloads == 0
    assert PublicLink.objects.get(pk=folder_link.pk).downloads == 0
    assert to_content_host(client.get(f"/s/{link.token}?download=1"))
    assert PublicLink.objects.get(pk=link.pk).downloads == 1
    assert client.get(f"/s/{link.token}?download=1").status_code == 410


def test_link_password_needs_eight_characters(cast, client):
    alice = cast["alice"]
    w = build(cast, access.OWNER)
    client.force_login(alice)
    before = PublicLink.objects.count()
    resp = client.post(
        f"/api/files/files/{w.a.id}/links", {"password": "short12"}, content_type="application/json"
    )
    assert resp.status_code == 400
    assert "at least 8 characters" in resp.json()["error"]
    page = client.post(f"/files/files/{w.a.id}/link", {"password": "1234567"})
    assert page.status_code == 400
    assert "at least 8 characters" in page.content.decode()
    assert PublicLink.objects.count() == before
    assert actions.create_link(alice, w.a, password="12345678").password


def test_link_password_tries_are_limited_per_link_and_address(cast, client):
    alice = cast["alice"]
    w = build(cast, access.OWNER)
    link = actions.create_link(alice, w.a, password="right-password")
    other = actions.create_link(alice, w.a, password="right-password")
    path = f"/s/{link.token}"
    for _ in range(10):
        assert client.post(path, {"password": "wrong-guess"}).status_code == 403
    # The 11th try is refused before any hash, even with the right password.
    resp = client.post(path, {"password": "right-password"})
    assert resp.status_code == 429
    assert "Too many wrong passwords" in resp.content.decode()
    assert client.post(f"/s/{link.token}/file/{w.a.id}", {"password": "right-password"}).status_code == 429
    # Another address, or another link, is not affected.
    assert to_content_host(client.post(path, {"password": "right-password"}, REMOTE_ADDR="192.0.2.7"))
    assert to_content_host(client.post(f"/s/{other.token}", {"password": "right-password"}))
    # A right password leaves no try behind; an hour later the address may try again.
    assert LinkPasswordTry.objects.filter(link=other).count() == 0
    LinkPasswordTry.objects.filter(link=link).update(at=link.created_at.replace(year=2000))
    assert to_content_host(client.post(path, {"password": "right-password"}))
    assert not LinkPasswordTry.objects.filter(link=link, at__year=2000).exists()  # old ones are dropped


def test_link_password_refusal_counts_no_empty_try(cast):
    w = build(cast, access.OWNER)
    link = actions.create_link(cast["alice"], w.a, password="right-password")
    for _ in range(20):
        assert not actions.check_link_password(link, "", "198.51.100.1")
    assert not LinkPasswordTry.objects.exists()
    assert backend().size(w.a.key) == 5


@pytest.mark.parametrize(
    ("role", "method", "suffix", "body", "status"),
    [
        (access.WRITER, "post", "shares", {"username": "erin"}, 403),
        (access.WRITER, "post", "links", {}, 403),
        (access.WRITER, "patch", "", {"name": "renamed"}, 200),
        (access.WRITER, "delete", "", None, 204),
        (access.READER, "patch", "", {"name": "renamed"}, 403),
        (access.READER, "delete", "", None, 403),
        (access.MEMBER, "post", "shares", {"username": "erin"}, 201),
        (access.MEMBER, "post", "links", {}, 201),
    ],
)
def test_sharing_table_holds_for_folders(cast, client, role, method, suffix, body, status):
    w = build(cast, role)
    client.force_login(w.actor)
    before = snapshot()
    url = f"/api/files/folders/{w.sub.id}" + (f"/{suffix}" if suffix else "")
    resp = getattr(client, method)(url, body, content_type="application/json")
    assert resp.status_code == status, resp.content
    if status == 403:
        assert resp.json()["error"]
        assert snapshot() == before
    else:
        assert snapshot() != before


def test_html_forms_refuse_a_write_sharer_managing_shares_and_links(cast, client):
    w = build(cast, access.WRITER)
    client.force_login(cast["bob"])
    before = snapshot()
    for path, data in (
        (f"/files/files/{w.a.id}/share", {"username": "erin", "permission": "write"}),
        (f"/files/files/{w.a.id}/link", {}),
        (f"/files/shares/{w.other_share.id}/remove", {}),
        (f"/files/links/{w.link.id}/revoke", {}),
    ):
        resp = client.post(path, data)
        assert resp.status_code == 403, path
        assert "Only the owner" in resp.content.decode()
    assert snapshot() == before
