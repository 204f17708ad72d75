"""Files actions in-process: names, uploads, quota, the tree, trash, shares, links and search.

Bytes go to the local-disk backend (the fallback), rows to the real PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import unicodedata
from unittest import mock

import pytest
from django.conf import settings
from django.http import Http404
from django.utils import timezone

from strata.files import access, actions
from strata.files.actions.downloads import CONTENT_SECONDS
from strata.files.errors import Conflict, FilesError, Gone, QuotaExceeded
from strata.files.models import AuditEvent, File, Folder, PublicLink, Quota, Share, Usage

pytestmark = pytest.mark.django_db


def stored_keys() -> set[str]:
    root = settings.STRATA_FILES_LOCAL_ROOT
    return {p.name for p in root.glob("??/*")} if root.exists() else set()


def put(user, name, data: bytes, space=None, folder=None, **kw) -> File:
    space = space or actions.personal_space(user)
    return actions.upload_file(user, space, folder, name, io.BytesIO(data), len(data), **kw)


def read(f: File) -> bytes:
    from strata.files.storage import backend

    return b"".join(backend().read(f.key))


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "a/b",
        "a\\b",
        "nul\x00byte",
        "bell\x07",
        "..",
        ".",
        "x" * 256,
        "é" * 128,
        "",
        "  ",
        " lead",
        None,
    ],
)
def test_bad_names_are_refused(name):
    with pytest.raises(FilesError) as info:
        actions.clean_name(name)
    assert info.value.args
    assert str(info.value)


def test_names_are_nfc_and_may_hold_unicode():
    nfd = unicodedata.normalize("NFD", "Résumé.txt")
    assert actions.clean_name(nfd) == unicodedata.normalize("NFC", "Résumé.txt")
    assert actions.clean_name("é" * 127) == "é" * 127  # 254 bytes


def test_upload_stores_bytes_and_row_and_counts_usage(people):
    alice = people["alice"]
    before = stored_keys()
    f = put(alice, "report.bin", b"hello world")
    assert (f.size, f.name, f.created_by) == (11, "report.bin", alice)
    assert len(f.sha256) == 64
    assert read(f) == b"hello world"
    assert stored_keys() - before == {f.key}
    assert Usage.objects.get(user=alice).bytes == 11
    assert actions.used_bytes(alice) == 11
    assert actions.quota_status(alice)[1] == 11
    assert AuditEvent.objects.filter(action=AuditEvent.UPLOAD, file=f).count() == 1


def test_name_conflicts_refuse_or_rename(people):
    alice = people["alice"]
    put(alice, unicodedata.normalize("NFD", "Résumé.txt"), b"one")
    keys = stored_keys()
    with pytest.raises(Conflict):
        put(alice, "Résumé.txt", b"two")
    assert stored_keys() == keys  # refused before any byte was stored
    assert put(alice, "Résumé.txt", b"two", rename=True).name == "Résumé (2).txt"


def test_quota_refusal_leaves_nothing_behind(people):
    bob = people["bob"]
    Quota.objects.create(user=bob, limit_bytes=1000)
    keys, rows = stored_keys(), File.objects.count()
    with pytest.raises(QuotaExceeded, match="free"):
        put(bob, "too-big.bin", b"x" * 1001)
    put(bob, "fits.bin", b"x" * 1000)
    with pytest.raises(QuotaExceeded):
        put(bob, "one-more.bin", b"y")
    with pytest.raises(QuotaExceeded):
        actions.begin_upload(bob, actions.personal_space(bob), None, "big", 10)
    assert File.objects.count() == rows + 1
    assert len(stored_keys() - keys) == 1
    assert actions.quota_status(bob) == (1000, 1000)


def test_size_limit_and_truncated_stream_store_nothing(people):
    alice = people["alice"]
    keys = stored_keys()
    limit = actions.max_upload_bytes()
    with pytest.raises(FilesError) as info:
        actions.upload_file(alice, actions.personal_space(alice), None, "huge", io.BytesIO(b""), limit + 1)
    assert info.value.status == 413
    with pytest.raises(FilesError):
        actions.upload_file(alice, actions.personal_space(alice), None, "cut", io.BytesIO(b"abc"), 10)
    assert stored_keys() == keys
    assert not File.objects.exists()


def test_chunked_upload_checks_parts_then_completes(people, django_capture_on_commit_callbacks):
    alice = people["alice"]
    space = actions.personal_space(alice)
    data = bytes(range(256)) * 40  # 10240 bytes
    up = actions.begin_upload(alice, space, None, "parts.bin", len(data))
    up.part_size = 4096
    up.save()
    assert actions.part_count(up) == 3
    assert actions.expected_part_size(up, 3) == 2048
    assert actions.used_bytes(alice) == len(data)  # reserved while in progress
    with pytest.raises(FilesError, match="must be 4096"):
        actions.put_upload_part(up, 1, io.BytesIO(data[:100]), 100)
    with pytest.raises(FilesError, match="1 to 3"):
        actions.expected_part_size(up, 4)
    actions.put_upload_part(up, 2, io.BytesIO(data[4096:8192]), 4096)
    with pytest.raises(FilesError, match="1, 3"):
        actions.complete_upload(up)
    actions.put_upload_part(up, 1, io.BytesIO(data[:4096]), 4096)
    actions.put_upload_part(up, 3, io.BytesIO(data[8192:]), 2048)
    with django_capture_on_commit_callbacks() as callbacks:
        f = actions.complete_upload(up)
    assert len(callbacks) == 1  # the sha256 task is queued once the row is committed
    assert read(f) == data
    assert f.size == len(data)
    assert actions.fill_sha256(f.pk) == __import__("hashlib").sha256(data).hexdigest()
    assert Usage.objects.get(user=alice).bytes == len(data)
    assert actions.used_bytes(alice) == len(data)


def test_cancelled_upload_frees_its_reservation(people):
    alice = people["alice"]
    up = actions.begin_upload(alice, actions.personal_space(alice), None, "gone.bin", 50)
    actions.cancel_upload(up)
    assert actions.used_bytes(alice) == 0


def test_folders_rename_and_move(people):
    alice = people["alice"]
    space = actions.personal_space(alice)
    docs = actions.create_folder(alice, space, None, "Docs")
    inner = actions.create_folder(alice, space, docs, "Inner")
    with pytest.raises(Conflict):
        actions.create_folder(alice, space, None, "Docs")
    with pytest.raises(FilesError):
        actions.create_folder(alice, space, None, "a/b")
    f = put(alice, "plan.txt", b"plan", folder=docs)
    put(alice, "taken.txt", b"t", folder=docs)
    with pytest.raises(Conflict):
        actions.rename(alice, f, "taken.txt")
    assert actions.rename(alice, f, "plan-v2.txt").name == "plan-v2.txt"
    actions.move(alice, f, space, None)
    f.refresh_from_db()
    assert f.folder is None
    with pytest.raises(FilesError, match="into itself"):
        actions.move(alice, docs, space, inner)
    group_space = actions.spaces_for(alice)[1]
    with pytest.raises(FilesError, match="within their space"):
        actions.move(alice, docs, group_space, None)
    with pytest.raises(FilesError) as info:
        actions.create_folder(people["bob"], space, None, "Intruder")
    assert info.value.status == 404
    assert [x.name for x in actions.listing(space, docs)[0]] == ["Inner"]
    assert [x.name for x in actions.listing(space, None)[1]] == ["plan-v2.txt"]


def test_trash_restore_and_empty_trash(people):
    alice = people["alice"]
    space = actions.personal_space(alice)
    folder = actions.create_folder(alice, space, None, "Old")
    f = put(alice, "old.txt", b"old data", folder=folder)
    loose = put(alice, "loose.txt", b"loose")
    actions.trash(alice, f)
    with pytest.raises(Http404):
        access.get_file(alice, f.id)
    assert access.get_file(alice, f.id, trashed=True) == f
    actions.restore(alice, f)
    f.refresh_from_db()
    assert f.trashed_at is None
    assert f.folder == folder
    # Restored into the root when its folder is in the trash too, renamed when its name is taken.
    put(alice, "old.txt", b"root copy")
    actions.trash(alice, f)
    actions.trash(alice, folder)
    f = access.get_file(alice, f.id, trashed=True)
    actions.restore(alice, f)
    f.refresh_from_db()
    assert (f.folder, f.name) == (None, "old (2).txt")
    actions.trash(alice, f)
    actions.trash(alice, loose)
    keys = {f.key, loose.key}
    assert actions.empty_trash(alice, space) == 2
    assert not keys & stored_keys()
    assert not File.objects.filter(pk__in=[f.pk, loose.pk]).exists()
    assert not Folder.objects.filter(pk=folder.pk)
    assert Usage.objects.get(user=alice).bytes == len(b"root copy")


def test_access_owner_group_shares_and_strangers(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    mine = put(alice, "plan.txt", b"the plan")
    assert access.node_permission(alice, mine) == access.WRITE
    assert access.node_permission(bob, mine) is None
    for need in (access.READ, access.WRITE):
        with pytest.raises(Http404):
            access.get_file(bob, mine.id, need)
    with pytest.raises(Http404):
        access.get_space(bob, mine.space_id)
    # Group space: members write, others see nothing.
    group_space = actions.spaces_for(alice)[1]
    team = put(alice, "team.txt", b"team", space=group_space)
    assert access.get_file(carol, team.id, access.WRITE) == team
    with pytest.raises(Http404):
        access.get_file(bob, team.id)
    # Read share, then write share (the stronger one wins), then gone with unshare.
    s = actions.share(alice, mine, username="bob")
    assert access.get_file(bob, mine.id) == mine
    with pytest.raises(FilesError, match="not change") as refused:
        access.get_file(bob, mine.id, access.WRITE)
    assert refused.value.status == 403
    actions.share(alice, mine, username="bob", permission=Share.WRITE)
    assert access.node_permission(bob, mine) == access.WRITE
    assert Share.objects.filter(file=mine).count() == 1
    s.refresh_from_db()
    actions.unshare(alice, s)
    assert access.node_permission(bob, mine) is None
    # A folder shared with a group covers what is inside, at any depth.
    top = actions.create_folder(alice, actions.personal_space(alice), None, "Shared")
    sub = actions.create_folder(alice, actions.personal_space(alice), top, "Sub")
    inner = put(alice, "inner.txt", b"inside", folder=sub)
    actions.share(alice, top, group="research")
    assert access.get_file(carol, inner.id) == inner
    assert access.node_permission(bob, inner) is None
    # Search finds only what one may read.
    assert [f.name for f in actions.search(carol, "inner")] == ["inner.txt"]
    assert list(actions.search(bob, "inner")) == []
    assert [f.name for f in actions.search(alice, "PLAN")] == ["plan.txt"]
    assert list(actions.search(alice, "   ")) == []


def test_share_refuses_unknown_people_groups_and_permissions(people):
    alice = people["alice"]
    f = put(alice, "x.txt", b"x")
    with pytest.raises(FilesError) as info:
        actions.share(alice, f, username="nobody")
    assert info.value.status == 404
    assert "nobody" in str(info.value)
    with pytest.raises(FilesError):
        actions.share(alice, f, group="nogroup")
    with pytest.raises(FilesError):
        actions.share(alice, f, username="bob", permission="admin")
    with pytest.raises(FilesError):
        actions.share(alice, f)
    assert not Share.objects.exists()


def test_public_links_password_limit_expiry_and_revocation(people):
    alice = people["alice"]
    f = put(alice, "flyer.pdf", b"%PDF")
    link = actions.create_link(alice, f, password="s3same-pw", max_downloads=2)
    assert actions.get_link(link.token) == link
    assert not actions.check_link_password(link, "wrong")
    assert not actions.check_link_password(link, "")
    assert actions.check_link_password(link, "s3same-pw")
    actions.count_link_download(link, f)
    actions.count_link_download(link, f)
    with pytest.raises(Gone):
        actions.count_link_download(link, f)
    with pytest.raises(Gone, match="limit"):
        actions.get_link(link.token)
    timed = actions.create_link(alice, f, expires_in_days=1)
    PublicLink.objects.filter(pk=timed.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Gone, match="expired"):
        actions.get_link(timed.token)
    for bad in ({"expires_in_days": 0}, {"expires_in_days": 3651}, {"max_downloads": 0}):
        with pytest.raises(FilesError):
            actions.create_link(alice, f, **bad)
    open_link = actions.create_link(alice, f)
    assert actions.check_link_password(open_link, "")
    actions.revoke_link(alice, open_link)
    for token in (open_link.token, "not-a-real-token", "x" * 100):
        with pytest.raises(FilesError) as info:
            actions.get_link(token)
        assert info.value.status == 404
    # A trashed file's links stop working.
    live = actions.create_link(alice, f)
    actions.trash(alice, f)
    with pytest.raises(FilesError):
        actions.get_link(live.token)


def test_download_target_and_missing_bytes(people):
    alice = people["alice"]
    f = put(alice, "fragile.txt", b"soon gone")
    url = actions.download_target(alice, f)
    assert url.startswith(settings.STRATA_CONTENT_ORIGIN + "/c/")
    uri, content_type, disposition = actions.content_target(url.rsplit("/", 1)[1])
    assert uri == f"/_files_local/{f.key[:2]}/{f.key}"
    assert (content_type, disposition.split(";")[0]) == ("application/octet-stream", "attachment")
    (settings.STRATA_FILES_LOCAL_ROOT / f.key[:2] / f.key).unlink()
    with pytest.raises(Gone, match="missing"):
        actions.download_target(alice, f)
    f.refresh_from_db()
    assert f.missing_since is not None


def test_content_urls_are_signed_single_purpose_and_short_lived(people):
    """A content URL names one object with the type and disposition decided when access was checked;
    altered, it is refused (403); after CONTENT_SECONDS, it has expired (410)."""
    alice = people["alice"]
    page = put(alice, "page.html", b"<script></script>", content_type="text/html")
    token = actions.content_url(page, inline=True).rsplit("/", 1)[1]
    _uri, content_type, disposition = actions.content_target(token)
    assert (content_type, disposition.split(";")[0]) == ("application/octet-stream", "attachment")
    with pytest.raises(FilesError, match="not valid") as info:
        actions.content_target(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert info.value.status == 403
    signed = time.time() - CONTENT_SECONDS - 1
    with mock.patch("django.core.signing.time.time", return_value=signed):
        old = actions.content_url(page).rsplit("/", 1)[1]
    with pytest.raises(Gone, match="expired"):
        actions.content_target(old)


def test_previews_only_for_types_that_cannot_script(people):
    alice = people["alice"]
    kinds = {}
    for name, ctype in (
        ("p.png", "image/png"),
        ("d.pdf", "application/pdf"),
        ("t.txt", "text/plain; charset=utf-8"),
        ("s.ogg", "audio/ogg"),
        ("v.mp4", "video/mp4"),
        ("x.html", "text/html"),
        ("i.svg", "image/svg+xml"),
    ):
        got = actions.preview(put(alice, name, b"x", content_type=ctype))
        kinds[name] = got and got[0]
        assert got is None or got[1].startswith(settings.STRATA_CONTENT_ORIGIN + "/c/")
    assert kinds == {
        "p.png": "image",
        "d.pdf": "pdf",
        "t.txt": "text",
        "s.ogg": "audio",
        "v.mp4": "video",
        "x.html": None,
        "i.svg": None,
    }


def test_usage_counter_matches_a_recount(people):
    alice, bob = people["alice"], people["bob"]
    a = put(alice, "a.bin", b"a" * 10)
    put(alice, "b.bin", b"b" * 20)
    put(bob, "c.bin", b"c" * 5)
    actions.trash(alice, a)  # trash still counts
    counted = dict(Usage.objects.values_list("user_id", "bytes"))
    assert counted == {alice.pk: 30, bob.pk: 5}
    actions.empty_trash(alice, actions.personal_space(alice))
    assert Usage.objects.get(user=alice).bytes == 20


def test_a_file_trashed_then_its_folder_is_purged_and_uncounted_once(people):
    # Found by the API contract run: such a file was in both of empty_trash's lists and its size was
    # taken off the usage counter twice.
    alice = people["alice"]
    space = actions.personal_space(alice)
    folder = actions.create_folder(alice, space, None, "Drafts")
    inner = put(alice, "draft.txt", b"d" * 134, folder=folder)
    put(alice, "keep.txt", b"k" * 7)
    actions.trash(alice, inner)
    actions.trash(alice, folder)
    assert actions.empty_trash(alice, space) == 1
    assert Usage.objects.get(user=alice).bytes == 7
    actions.recount_usage()
    assert Usage.objects.get(user=alice).bytes == 7


def test_spaces_for_makes_group_spaces_once(people, django_assert_max_num_queries):
    alice = people["alice"]
    first = actions.spaces_for(alice)
    assert [s.kind for s in first] == ["personal", "group"]
    with django_assert_max_num_queries(3):
        again = actions.spaces_for(alice)
    assert [s.pk for s in again] == [s.pk for s in first]
    assert [s.pk for s in actions.nav_spaces(alice)] == [s.pk for s in first]


def test_with_pitr_a_purged_files_bytes_outlive_the_recovery_window(people, settings):
    """A restore to any moment of the window finds the bytes of that moment's rows: emptying the trash
    keeps the object (and reconcile does not take it for an orphan) until files.purge, after the window."""
    from strata.files import reconcile, tasks
    from strata.files.models import DeletedObject

    settings.STRATA_FILES = {**settings.STRATA_FILES, "pitr": True, "retention_days": 3}
    alice = people["alice"]
    space = actions.personal_space(alice)
    f = put(alice, "kept-for-pitr.txt", b"bytes of the past")
    actions.trash(alice, f)
    assert actions.empty_trash(alice, space) == 1
    assert not File.objects.filter(pk=f.pk).exists()
    assert f.key in stored_keys()
    assert DeletedObject.objects.filter(key=f.key).exists()
    report = reconcile.run(delete=True, grace_hours=0)
    assert f.key not in report.orphans
    assert f.key in stored_keys()
    assert tasks.purge_deleted(now=timezone.now() + dt.timedelta(days=2)) == 0
    assert f.key in stored_keys()
    assert tasks.purge_deleted(now=timezone.now() + dt.timedelta(days=3, minutes=1)) == 1
    assert f.key not in stored_keys()
    assert not DeletedObject.objects.filter(key=f.key).exists()
