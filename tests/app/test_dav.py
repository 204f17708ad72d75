"""WebDAV's own logic in-process: locks and dead properties in the database, pushed uploads (quota checked
as bytes arrive, content replaced in place, COPY), the Basic login, and the app passwords page.

Bytes go to the local-disk backend (the fallback), rows to the real PostgreSQL.
"""

from __future__ import annotations

import base64
import io
import threading
import time
import urllib.parse
import wsgiref.util

import pytest
from django.conf import settings
from django.db import connections
from django.http import Http404
from wsgidav.dav_error import DAVError

from strata.accounts.models import ApiToken, AttemptCounter
from strata.dav import auth
from strata.dav.locks import DatabaseLockManager, DatabaseLockStorage
from strata.dav.models import Lock
from strata.dav.props import DatabasePropertyManager
from strata.files import actions
from strata.files.errors import FilesError, QuotaExceeded
from strata.files.models import AuditEvent, File, Usage
from strata.files.storage import backend

pytestmark = pytest.mark.django_db


def stored_keys() -> set[str]:
    root = settings.STRATA_FILES_LOCAL_ROOT
    return {p.name for p in root.glob("??/*")} if root.exists() else set()


def push(user, name, pieces: list[bytes], length: int | None = None, replace=None) -> File:
    upload = actions.PushedUpload(
        user, actions.personal_space(user), None, name, length, "text/plain", replace=replace
    )
    try:
        for piece in pieces:
            upload.write(piece)
    except BaseException:
        upload.abort()
        raise
    return upload.finish()


def content(f: File) -> bytes:
    return b"".join(backend().read(f.key))


# --- locks and properties ------------------------------------------------------------------------------


def lock(path: str, timeout: float = 60) -> dict:
    return {
        "root": path,
        "type": "write",
        "scope": "exclusive",
        "depth": "infinity",
        "owner": b"<owner>\xc3\xa9</owner>",
        "timeout": timeout,
        "principal": "alice",
    }


def test_locks_live_in_the_database_and_expire():
    store = DatabaseLockStorage()
    token = store.create("/alice/doc.txt", lock("/alice/doc.txt"))
    # A second storage object (another app server) sees the lock, owner bytes intact.
    other = DatabaseLockStorage()
    assert other.get(token)["owner"] == b"<owner>\xc3\xa9</owner>"
    assert other.get_lock_list("/alice", include_root=False, include_children=True, token_only=True) == [
        token
    ]
    assert other.get_lock_list("/alice", include_root=True, include_children=False, token_only=True) == []
    assert other.refresh(token, timeout=-1)["timeout"] == DatabaseLockStorage().get(token)["timeout"]
    short = store.create("/alice/x", lock("/alice/x", timeout=0.01))
    time.sleep(0.05)
    assert store.get(short) is None  # expired: gone
    assert other.delete(token) is True
    assert store.get(token) is None
    assert other.delete(token) is False


@pytest.mark.django_db(transaction=True)
def test_two_app_servers_cannot_both_lock_one_resource():
    """Two lock managers (two app servers, each with its own in-process guard) LOCK one file at once: the
    first is held between its conflict check and its new row; the second waits for the first's
    transaction, then finds its lock (423). Never two exclusive locks on one resource."""
    checked, go = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    class HeldAfterTheCheck(DatabaseLockManager):
        def _check_lock_permission(self, *args, **kwargs):
            super()._check_lock_permission(*args, **kwargs)
            checked.set()
            go.wait(20)

    def lock(name: str, manager: DatabaseLockManager) -> None:
        try:
            results[name] = manager.acquire(
                url="/dav/alice/report.txt",
                lock_type="write",
                lock_scope="exclusive",
                lock_depth="0",
                lock_owner=b"<owner/>",
                timeout=60,
                principal=name,
                token_list=[],
            )["token"]
        except DAVError as err:
            results[name] = err.value
        finally:
            connections.close_all()

    first = threading.Thread(target=lock, args=("first", HeldAfterTheCheck(DatabaseLockStorage())))
    first.start()
    assert checked.wait(20)
    second = threading.Thread(target=lock, args=("second", DatabaseLockManager(DatabaseLockStorage())))
    second.start()
    second.join(2)  # without the advisory lock it finds no conflict and locks now, while the first is held
    go.set()
    first.join(20)
    second.join(20)
    assert isinstance(results["first"], str)
    assert results["second"] == 423
    assert list(Lock.objects.values_list("token", flat=True)) == [results["first"]]


def test_dead_properties_follow_copies_and_moves():
    props = DatabasePropertyManager()
    props.write_property("/dav/a/x/", "{urn:z}color", b"<color>blue</color>")
    props.write_property("/dav/a/x/y.txt", "{urn:z}size", "<size>9</size>")
    props.write_property("/dav/a/x/", "{urn:z}gone", "<gone/>", dry_run=True)
    assert props.get_properties("/dav/a/x/") == ["{urn:z}color"]
    props.copy_properties("/dav/a/x/", "/dav/a/copy/")
    assert props.get_property("/dav/a/copy/", "{urn:z}color") == "<color>blue</color>"
    props.move_properties("/dav/a/x/", "/dav/a/moved/", with_children=True)
    assert props.get_property("/dav/a/moved/y.txt", "{urn:z}size") == "<size>9</size>"
    assert props.get_properties("/dav/a/x/") == []
    props.remove_property("/dav/a/moved/", "{urn:z}color")
    assert props.get_properties("/dav/a/moved/") == []


# --- pushed uploads (PUT) -----------------------------------------------------------------------------


def test_pushed_upload_with_and_without_length(people):
    alice = people["alice"]
    f = push(alice, "a.txt", [b"hello ", b"world"], length=11)
    assert content(f) == b"hello world"
    g = push(alice, "b.txt", [b"chunked ", b"body"])  # no Content-Length
    assert (g.size, content(g)) == (12, b"chunked body")
    with pytest.raises(FilesError):
        push(alice, "c.txt", [b"short"], length=10)
    assert not File.objects.filter(name="c.txt").exists()


def test_quota_is_checked_as_bytes_arrive(people):
    alice = people["alice"]
    actions.set_quota(alice, 1000)
    keys = stored_keys()
    with pytest.raises(QuotaExceeded):
        push(alice, "big.bin", [b"x" * 600, b"x" * 600])  # chunked: refused at the second piece
    with pytest.raises(QuotaExceeded):
        push(alice, "big.bin", [b"x" * 10], length=1200)  # announced: refused before any byte
    assert stored_keys() == keys
    assert not File.objects.filter(name="big.bin").exists()


def test_replacing_content_keeps_the_file_and_counts_the_difference(people):
    alice = people["alice"]
    f = push(alice, "doc.txt", [b"v1"])
    old_key = f.key
    g = push(alice, "doc.txt", [b"version two"], replace=f)
    assert g.pk == f.pk
    assert content(g) == b"version two"
    assert old_key not in stored_keys()
    assert Usage.objects.get(user=alice).bytes == len(b"version two")
    assert AuditEvent.objects.filter(file=f, action=AuditEvent.UPLOAD).count() == 2


def test_copy_file_copies_bytes_and_counts_quota(people):
    alice = people["alice"]
    f = push(alice, "orig.txt", [b"original"])
    copy = actions.copy_file(alice, f, f.space, None, "copy.txt")
    assert (copy.name, content(copy)) == ("copy.txt", b"original")
    assert copy.key != f.key
    assert Usage.objects.get(user=alice).bytes == 16
    # Bob cannot read alice's file, so cannot copy it.
    with pytest.raises(Http404):
        actions.copy_file(people["bob"], f, actions.personal_space(people["bob"]), None, "stolen.txt")


# --- the Basic login -----------------------------------------------------------------------------------


def environ(username: str, password: str) -> dict:
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}", "REMOTE_ADDR": "192.0.2.7"}


def test_basic_login_password_app_password_and_limits(people):
    auth.forget_all()
    alice = people["alice"]
    assert auth.basic_login(environ("alice", "pw-alice")) == alice
    assert isinstance(auth.basic_login({}), auth.Refusal)
    secret = actions_issue(alice)
    assert auth.basic_login(environ("alice", secret)) == alice
    assert isinstance(auth.basic_login(environ("bob", secret)), auth.Refusal)  # not bob's
    results = [auth.basic_login(environ("carol", "wrong")) for _ in range(7)]
    statuses = [r.status for r in results if isinstance(r, auth.Refusal)]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses
    assert AttemptCounter.objects.filter(subject="carol").exists()
    # A deactivated person is refused even while their login is remembered.
    alice.is_active = False
    alice.save()
    assert isinstance(auth.basic_login(environ("alice", "pw-alice")), auth.Refusal)


def actions_issue(user) -> str:
    from strata.accounts.actions import issue_token

    return issue_token(user=user, label="drive")[1]


# --- the app passwords page ------------------------------------------------------------------------------


def test_app_passwords_page_creates_once_and_revokes(client, people):
    client.force_login(people["alice"])
    resp = client.post("/accounts/app-passwords/", {"label": "laptop drive"})
    assert resp.status_code == 200
    secret = resp.context["created"]
    assert secret.startswith("strata_")
    token = ApiToken.objects.get(user=people["alice"], label="laptop drive")
    assert secret not in token.digest  # only a digest is kept
    page = client.get("/accounts/app-passwords/").content.decode()
    assert "laptop drive" in page
    assert secret not in page  # shown once
    assert client.post("/accounts/app-passwords/", {"label": ""}).status_code == 400
    client.force_login(people["bob"])
    assert client.post("/accounts/app-passwords/", {"revoke": token.pk}).status_code == 404
    client.force_login(people["alice"])
    resp = client.post("/accounts/app-passwords/", {"revoke": token.pk})
    assert resp.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


# --- a service account on the drive ----------------------------------------------------------------------


def dav_call(gate, method: str, path: str, login: tuple[str, str], body: bytes = b"", **headers):
    """Send one request to the /dav/ application in-process (as nginx would pass it); return status,
    headers and body."""
    env: dict = {}
    wsgiref.util.setup_testing_defaults(env)
    basic = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
    env.update(
        REQUEST_METHOD=method,
        PATH_INFO=urllib.parse.unquote(path),
        RAW_URI=path,
        SCRIPT_NAME="",
        CONTENT_LENGTH=str(len(body)),
        HTTP_AUTHORIZATION=f"Basic {basic}",
        **{"wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body)},
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    )
    got: dict = {}

    def start_response(status, response_headers, exc_info=None):
        got["status"], got["headers"] = int(status.split()[0]), dict(response_headers)

    # handle(): the request without Django's request signals (they would close the test's connection).
    result = gate.handle(env, start_response)
    data = b"".join(result)
    getattr(result, "close", lambda: None)()
    return got["status"], got["headers"], data


def test_a_service_account_reads_what_its_groups_see_and_changes_nothing(people):
    from django.contrib.auth.models import Group

    from strata.accounts.actions import issue_token
    from strata.accounts.models import ServiceAccount
    from strata.dav.app import DavGate

    auth.forget_all()
    alice, bob = people["alice"], people["bob"]
    research = Group.objects.get(name="research")
    bot = ServiceAccount.objects.create(name="backup-bot")
    bot.groups.add(research)
    _token, secret = issue_token(service=bot, label="drive")
    space = actions.group_spaces(Group.objects.filter(pk=research.pk))[0]
    upload = actions.PushedUpload(alice, space, None, "plan.txt", 4, "text/plain")
    upload.write(b"plan")
    plan = upload.finish()
    shared = push(bob, "shared.txt", [b"to research"])
    actions.share(bob, shared, group="research")
    push(bob, "private.txt", [b"bob only"])
    gate, login = DavGate(), ("backup-bot", secret)

    status, _h, listing = dav_call(gate, "PROPFIND", "/dav/backup-bot/", login, Depth="1")
    assert status == 207
    assert b"/dav/backup-bot/Groups/" in listing
    assert b"/dav/backup-bot/Shared%20with%20me/" in listing
    status, _h, listing = dav_call(gate, "PROPFIND", "/dav/backup-bot/Groups/research/", login, Depth="1")
    assert (status, b"plan.txt" in listing) == (207, True)
    status, _h, listing = dav_call(
        gate, "PROPFIND", "/dav/backup-bot/Shared%20with%20me/bob/", login, Depth="1"
    )
    assert (status, b"shared.txt" in listing, b"private.txt" in listing) == (207, True, False)
    # A GET is answered like a person's (bytes through nginx) and recorded under the service's name.
    status, headers, _b = dav_call(gate, "GET", "/dav/backup-bot/Groups/research/plan.txt", login)
    assert (status, "X-Accel-Redirect" in headers) == (200, True)
    event = AuditEvent.objects.get(action=AuditEvent.DOWNLOAD, file=plan)
    assert (event.actor, event.detail) == (None, {"service": "backup-bot"})
    # Nothing else: no write of any kind, no person's own files, no other name with its token.
    for method in ("PUT", "DELETE", "MKCOL", "PROPPATCH", "LOCK", "MOVE", "COPY"):
        status, _h, data = dav_call(gate, method, "/dav/backup-bot/Groups/research/plan.txt", login, b"x")
        assert (status, b"cannot change" in data) == (403, True), method
    assert content(File.objects.get(pk=plan.pk)) == b"plan"
    assert dav_call(gate, "PROPFIND", "/dav/bob/", login, Depth="1")[0] == 404
    assert dav_call(gate, "PROPFIND", "/dav/alice/", ("alice", secret), Depth="0")[0] == 401
    bot.is_active = False
    bot.save()
    assert dav_call(gate, "PROPFIND", "/dav/backup-bot/", login, Depth="0")[0] == 401
