"""Functions that run inside a live stack's Django, called by tests and benchmarks through Stack.call.

Each one runs in the site's own process (`manage.py shell`), so it sees the stack's database and settings;
it takes and returns JSON-able values only. The test process imports this module just to name a function,
and Django is not set up there, so every import of the site's code sits inside the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "fax", "title", "department")

# --- people and accounts ---------------------------------------------------------------------------


def save_person(
    username: str,
    password: str | None = None,
    details: dict[str, str] | None = None,
    groups: Sequence[str] = (),
) -> int:
    """Create USERNAME if missing; set PASSWORD when given, save DETAILS (contact fields, the rest blank)
    through the people app's action when given, add them to GROUPS (created if missing); return the
    number of users."""
    from django.contrib.auth.models import Group, User

    from strata.people.actions import update_contact_details

    user, _ = User.objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
        user.save()
    if details is not None:
        update_contact_details(user, **{field: details.get(field, "") for field in CONTACT_FIELDS})
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return User.objects.count()


def save_people(people: list[dict[str, Any]]) -> int:
    """Save each of PEOPLE (the arguments of save_person by name); return the number of users."""
    from django.contrib.auth.models import User

    for person in people:
        save_person(**person)
    return User.objects.count()


def set_password(username: str, password: str) -> None:
    """Set USERNAME's password."""
    from django.contrib.auth.models import User

    user = User.objects.get(username=username)
    user.set_password(password)
    user.save()


def set_first_name(username: str, name: str) -> None:
    """Set USERNAME's first name as it is, bypassing every form's checks (e.g. a name with line breaks)."""
    from django.contrib.auth.models import User

    User.objects.filter(username=username).update(first_name=name)


def usernames() -> list[str]:
    """Return every username."""
    from django.contrib.auth.models import User

    return list(User.objects.values_list("username", flat=True))


def people_named(prefix: str, active: bool) -> list[str]:
    from django.contrib.auth import get_user_model

    rows = get_user_model().objects.filter(username__startswith=prefix, is_active=active)
    return sorted(rows.values_list("username", flat=True))


def user_state(username: str) -> dict[str, Any]:
    """Return USERNAME's names, email, whether active and with a usable password, groups and profile
    fields (None without a profile)."""
    from django.contrib.auth.models import User

    user = User.objects.select_related("profile").get(username=username)
    profile = getattr(user, "profile", None)
    return {
        "first": user.first_name,
        "last": user.last_name,
        "email": user.email,
        "active": user.is_active,
        "usable": user.has_usable_password(),
        "groups": sorted(user.groups.values_list("name", flat=True)),
        **{f: profile and getattr(profile, f) for f in ("phone", "fax", "title", "department")},
    }


def issue_token_for(username: str, label: str) -> str:
    """Issue an API token labelled LABEL to USERNAME; return its secret."""
    from django.contrib.auth.models import User

    from strata.accounts.actions import issue_token

    return issue_token(user=User.objects.get(username=username), label=label)[1]


def revoke_tokens(label: str) -> int:
    """Revoke every API token labelled LABEL; return how many were still live."""
    from strata.accounts.actions import revoke_token
    from strata.accounts.models import ApiToken

    return sum(revoke_token(t) for t in ApiToken.objects.filter(label=label))


# --- files -----------------------------------------------------------------------------------------


def file_rows() -> int:
    """Return the number of file rows (trash included)."""
    from strata.files.models import File

    return File.objects.count()


def file_key(file_id: int) -> str:
    """Return the object key of file FILE_ID on the file server."""
    from strata.files.models import File

    return File.objects.get(pk=file_id).key


def setting(name: str) -> Any:
    """Return the site's setting NAME."""
    from django.conf import settings

    return getattr(settings, name)


def content_url_signed_at(file_id: int, offset_seconds: int) -> str:
    """Return a content-host URL for file FILE_ID as if signed OFFSET_SECONDS from now (negative: earlier)."""
    import time
    from unittest import mock

    from strata.files import actions
    from strata.files.models import File

    now = time.time()
    with mock.patch("django.core.signing.time.time", return_value=now + offset_seconds):
        return actions.content_url(File.objects.get(pk=file_id))


def live_files() -> dict[str, Any]:
    """Return {"files": {name: size} of files not in the trash, "open_uploads": uploads in progress}."""
    from strata.files.models import File, Upload

    return {
        "files": {f.name: f.size for f in File.objects.filter(trashed_at__isnull=True)},
        "open_uploads": Upload.objects.count(),
    }


def set_quota(username: str, limit_bytes: int) -> None:
    """Set USERNAME's file quota to LIMIT_BYTES."""
    from django.contrib.auth.models import User

    from strata.files import actions

    actions.set_quota(User.objects.get(username=username), limit_bytes)


def expire_link(token: str) -> None:
    """Make the public link TOKEN expired a second ago."""
    import datetime as dt

    from django.utils import timezone

    from strata.files.models import PublicLink

    PublicLink.objects.filter(token=token).update(expires_at=timezone.now() - dt.timedelta(seconds=1))


def audit_actions(name: str) -> list[str]:
    """Return the audit trail's actions on files called NAME, sorted."""
    from strata.files.models import AuditEvent

    return sorted(AuditEvent.objects.filter(name=name).values_list("action", flat=True))


def usage_before_and_after_recount() -> dict[str, dict[str, int]]:
    """Recount every person's stored bytes; return the counters {user id: bytes} before and after."""
    from strata.files.actions import recount_usage
    from strata.files.models import Usage

    def counters() -> dict[str, int]:
        return {str(user_id): n for user_id, n in Usage.objects.values_list("user_id", "bytes")}

    before = counters()
    recount_usage()
    return {"before": before, "after": counters()}


def backup_row_counts() -> dict[str, int]:
    """Return the rows per model that a restore must bring back (the backup's own count)."""
    from strata.files.backup import row_counts

    return row_counts()


def folder_and_file_page_queries() -> dict[str, dict[str, int]]:
    """Return the queries of a folder page (2 then 42 files) and of a file page (1 then 16 shares),
    rendered in the site by Django's test client: {"few": {...}, "many": {...}}. The live cache is off:
    what a page costs must not grow with the rows it shows, whatever the cache holds at the moment (its
    entries fill on a first request and are dropped by NOTIFYs that arrive when they arrive)."""
    from django.test import override_settings

    with override_settings(STRATA_LIVE_CACHE=False):
        return _page_queries()


def _page_queries() -> dict[str, dict[str, int]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from strata.files import actions
    from strata.files.models import File, Share

    owner = User.objects.create_user("querycount")
    space = actions.personal_space(owner)
    folder = actions.create_folder(owner, space, None, "counted")
    client = Client(HTTP_HOST="localhost")
    client.force_login(owner)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            resp = client.get(url, secure=True)
        assert resp.status_code == 200, (url, resp.status_code)
        return len(ctx.captured_queries)

    def add_files(n: int, start: int) -> None:
        File.objects.bulk_create(
            File(space=space, folder=folder, name=f"f{i}.txt", size=i, key=f"qc{i:08d}", created_by=owner)
            for i in range(start, start + n)
        )

    def add_shares(f: File, n: int, start: int) -> None:
        for i in range(start, start + n):
            Share.objects.create(file=f, user=User.objects.create_user(f"qc{i}"), permission="read")

    add_files(2, 0)
    target = File.objects.get(key="qc00000000")
    add_shares(target, 1, 0)
    folder_url, file_url = f"/files/folder/{folder.id}/", f"/files/file/{target.id}/"
    few = {"folder": queries(folder_url), "file": queries(file_url)}
    add_files(40, 2)
    add_shares(target, 15, 1)
    many = {"folder": queries(folder_url), "file": queries(file_url)}
    return {"few": few, "many": many}


# --- messages --------------------------------------------------------------------------------------


def start_conversation(sender: str, to: str, subject: str, body: str) -> int:
    """Start a conversation from SENDER to TO (a username or group:NAME) through the messaging action;
    return its id."""
    from django.contrib.auth.models import User

    from strata.messaging import actions

    return actions.start_conversation(User.objects.get(username=sender), to, subject, body).conversation_id


def messages_of(conversation_id: int) -> list[list[str]]:
    """Return [how it came (web or email), body] of each message of CONVERSATION_ID, oldest first."""
    from strata.messaging.models import Message

    return [[m.via, m.body] for m in Message.objects.filter(conversation_id=conversation_id).order_by("id")]


def notification_of(username: str, conversation_id: int) -> dict[str, Any]:
    """Return USERNAME's notification email about CONVERSATION_ID (msgid, state, attempts, body kept) and
    their reply token there."""
    from strata.messaging.models import Notification, Participant

    n = Notification.objects.get(user__username=username, message__conversation_id=conversation_id)
    p = Participant.objects.get(user__username=username, conversation_id=conversation_id)
    return {
        "msgid": n.msgid,
        "state": n.state,
        "attempts": n.attempts,
        "reply_token": p.reply_token,
        "body": n.body,
    }


def notification_msgids(conversation_id: int) -> list[str]:
    """Return the Message-ID of every notification about CONVERSATION_ID."""
    from strata.messaging.models import Notification

    return list(
        Notification.objects.filter(message__conversation_id=conversation_id).values_list("msgid", flat=True)
    )


def notification_count(conversation_id: int) -> int:
    """Return how many notifications were queued about CONVERSATION_ID."""
    from strata.messaging.models import Notification

    return Notification.objects.filter(message__conversation_id=conversation_id).count()


def retried_notifications(to_address: str) -> int:
    """Return how many notifications to TO_ADDRESS are still pending after at least one attempt."""
    from strata.messaging.models import Notification

    return Notification.objects.filter(to_address=to_address, state="pending", attempts__gte=1).count()


def deliver_again(conversation_id: int) -> list[str]:
    """Run the delivery of each notification about CONVERSATION_ID once more (a late duplicate task);
    return what each delivery answered."""
    from strata.messaging import actions
    from strata.messaging.models import Notification

    return [
        actions.deliver_notification(n.pk)
        for n in Notification.objects.filter(message__conversation_id=conversation_id)
    ]


def messaging_rows(model: str) -> int:
    """Return the number of rows of the messaging app's MODEL (e.g. "Notification")."""
    from django.apps import apps

    return apps.get_model("messaging", model).objects.count()


# --- background tasks ------------------------------------------------------------------------------


def enqueue_ping(text: str) -> str:
    """Queue the ping task with TEXT for the worker; return the task's id."""
    from strata.ops.tasks import ping

    return str(ping.enqueue(text).id)


def ping_result(task_id: str) -> dict[str, Any]:
    """Return the status of ping task TASK_ID and, once it succeeded, what it returned."""
    from strata.ops.tasks import ping

    result = ping.get_result(task_id)
    done = result.status == "SUCCESSFUL"
    return {"status": str(result.status), "return_value": result.return_value if done else None}


# --- live updates -------------------------------------------------------------------------------------


def post_reply(sender: str, conversation_id: int, body: str) -> int:
    """Post BODY as SENDER to a conversation through the messaging action (this process is neither app
    server: the write reaches open streams through the database alone); return the message's id."""
    from django.contrib.auth.models import User

    from strata.messaging.actions import post_message
    from strata.messaging.models import Conversation

    conv = Conversation.objects.get(pk=conversation_id)
    return post_message(conv, User.objects.get(username=sender), body).pk


def send_to_many(sender: str, recipients: list[str], body: str) -> list[int]:
    """Post BODY from SENDER in one new conversation with each of RECIPIENTS; return the message ids."""
    from django.contrib.auth.models import User

    from strata.messaging.actions import start_conversation

    me = User.objects.get(username=sender)
    return [start_conversation(me, r, "", body).pk for r in recipients]


def prune_all_events() -> int:
    """Run the scheduled pruning of old events with nothing kept; return how many were deleted."""
    from datetime import timedelta

    from strata.live.actions import prune_events

    return prune_events(timedelta(0))


def make_folder(owner: str, name: str) -> int:
    """Create the folder NAME at the top of OWNER's own space; return its id."""
    from django.contrib.auth.models import User

    from strata.files import actions

    user = User.objects.get(username=owner)
    return actions.create_folder(user, actions.personal_space(user), None, name).pk


def folder_id(username: str, name: str) -> int:
    """Return the id of the live folder NAME at the root of USERNAME's own space."""
    from strata.files.models import Folder

    return Folder.objects.get(
        space__owner__username=username, parent=None, name=name, trashed_at__isnull=True
    ).pk


def mark_migration(app: str, name: str, applied: bool) -> None:
    """Add (APPLIED) or remove a row of Django's migrations table, as a database restored from elsewhere
    would differ from the one `up` last migrated."""
    from django.db.migrations.recorder import MigrationRecorder

    if applied:
        MigrationRecorder.Migration.objects.create(app=app, name=name)
    else:
        MigrationRecorder.Migration.objects.filter(app=app, name=name).delete()


# --- upgrades --------------------------------------------------------------------------------------


def stored_digests(names: list[str]) -> dict[str, str]:
    """Return the SHA-256 of the bytes stored for each file named in NAMES that has a row (by name)."""
    import hashlib

    from strata.files.models import File
    from strata.files.storage import backend

    store, out = backend(), {}
    for f in File.objects.filter(name__in=names):
        h = hashlib.sha256()
        for block in store.read(f.key):
            h.update(block)
        out[f.name] = h.hexdigest()
    return out


def applied_migrations(app_label: str) -> list[str]:
    """Return the names of APP_LABEL's migrations recorded as applied (one entry per record)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT name FROM django_migrations WHERE app = %s ORDER BY id", [app_label])
        return [row[0] for row in cur.fetchall()]


def table_columns(table: str) -> list[str]:
    """Return the column names of TABLE as the database has them."""
    from django.db import connection

    with connection.cursor() as cur:
        return [c.name for c in connection.introspection.get_table_description(cur, table)]
