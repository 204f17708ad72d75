"""Query counts of the most-used pages, exact: a test fails when a page's count changes (an N+1 grows it).

Each page is rendered with many rows, so a query per row would blow the count. The session, the
logged-in user and a folder's first page of rows come from the live cache (strata.site.live) on a page's
second visit: no query.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User

from strata.files import actions as files
from strata.messaging import actions as messaging
from strata.people.actions import update_contact_details
from strata.site.live import CACHE

pytestmark = pytest.mark.django_db

# The queries each page makes, whatever the number of rows it shows (the session and the user: none).
BASELINES = {
    "directory": 2,
    "person": 1,
    "folder": 0,  # the folder (with its space and parents) and its rows from the live cache
    "space": 1,
    "inbox": 1,
    "conversation": 3,
}


@pytest.fixture
def crowd(people):
    """Twenty more people with profiles, a folder of twenty files shared around, twenty messages."""
    alice = people["alice"]
    for i in range(20):
        u = User.objects.create_user(f"p{i:02}", password="x")
        update_contact_details(
            u,
            first_name=f"P{i}",
            last_name="Crowd",
            email=f"p{i}@example.org",
            phone="1",
            fax="2",
            title="t",
            department="Ops",
        )
    space = files.personal_space(alice)
    folder = files.create_folder(alice, space, None, "Many")
    for i in range(20):
        f = files.upload_file(alice, space, folder, f"f{i:02}.txt", io.BytesIO(b"x"), 1)
        files.share(alice, f, username="bob")
    conv = messaging.start_conversation(alice, "bob", "Many", "first").conversation
    for i in range(20):
        messaging.post_message(conv, alice if i % 2 else people["bob"], f"message {i}")
    for i in range(10):
        messaging.start_conversation(people["carol"], "alice", f"Other {i}", "hi")
    return {"folder": folder, "space": space, "conversation": conv}


def pages(people, crowd) -> dict[str, str]:
    return {
        "directory": "/people/",
        "person": "/people/bob/",
        "folder": f"/files/folder/{crowd['folder'].id}/",
        "space": f"/files/space/{crowd['space'].id}/",
        "inbox": "/messages/",
        "conversation": f"/messages/c/{crowd['conversation'].id}/",
    }


@pytest.fixture
def live_cache(settings):
    """Turn the live cache on (the in-process tier runs without it) and wait for its listener."""
    settings.STRATA_LIVE_CACHE = True
    assert CACHE.wait_live(), "the live cache's listener did not connect"
    yield CACHE
    CACHE.stop()  # its connection would keep the test database from being dropped


@pytest.mark.parametrize("page", sorted(BASELINES))
def test_page_query_count(client, people, crowd, live_cache, page, django_assert_num_queries):
    client.force_login(people["alice"])
    path = pages(people, crowd)[page]
    client.get(path)  # first visit: lazily created rows (spaces), the session and the user are read
    with django_assert_num_queries(BASELINES[page]):
        resp = client.get(path)
    assert resp.status_code == 200, resp.content[:300]


def test_session_and_user_are_read_again_after_a_change(
    client, people, live_cache, django_assert_num_queries
):
    """Without the NOTIFY of a commit the cache would go stale; a change made in this process's own
    transaction is not committed, so a direct drop stands in for the notification here (the integration
    test tests/integration/test_db_restart.py shows logouts across app servers)."""
    client.force_login(people["alice"])
    client.get("/messages/")
    with django_assert_num_queries(BASELINES["inbox"]):
        client.get("/messages/")
    user_id = str(people["alice"].pk)
    live_cache._drop(f"u:{user_id}")
    with django_assert_num_queries(BASELINES["inbox"] + 1):  # the user row, read again
        client.get("/messages/")
    live_cache._drop("*")
    with django_assert_num_queries(BASELINES["inbox"] + 3):  # the session, the user, the unread count
        client.get("/messages/")


def test_folder_rows_are_read_again_after_a_change_inside(
    client, people, crowd, live_cache, django_assert_num_queries
):
    """A change inside the folder sends the NOTIFY that drops its rows, a change to any folder or space
    the one that drops the cached folders (the triggers of migrations files.0007 and 0008; delivered on
    commit, so a direct drop stands in for them here, as above)."""
    client.force_login(people["alice"])
    path = pages(people, crowd)["folder"]
    client.get(path)
    live_cache._drop(f"fr:{crowd['folder'].id}")
    with django_assert_num_queries(BASELINES["folder"] + 2):  # its folders and its files
        resp = client.get(path)
    assert resp.content.count(b'class="file-row"') == 20
    live_cache._drop("fo:*")  # any folder or space changed: the folder and its parents, read again
    with django_assert_num_queries(BASELINES["folder"] + 1):
        assert client.get(path).status_code == 200
