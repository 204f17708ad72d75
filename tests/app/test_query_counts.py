"""Query-count baselines for the most-used pages: a test fails when a page's query count grows (N+1).

Each page is rendered with many rows, so a query per row would blow the baseline.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User

from strata.files import actions as files
from strata.messaging import actions as messaging
from strata.people.actions import update_contact_details

pytestmark = pytest.mark.django_db

# The most queries each page may make, whatever the number of rows it shows.
BASELINES = {
    "directory": 5,
    "person": 4,
    "folder": 8,
    "space": 8,
    "inbox": 4,
    "conversation": 6,
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


@pytest.mark.parametrize("page", sorted(BASELINES))
def test_page_query_count(client, people, crowd, page, django_assert_max_num_queries):
    client.force_login(people["alice"])
    path = pages(people, crowd)[page]
    client.get(path)  # first visit: lazily created rows (spaces) do not count
    with django_assert_max_num_queries(BASELINES[page]):
        resp = client.get(path)
    assert resp.status_code == 200, resp.content[:300]
