"""Conditional GET: the directory and a person's page answer 304 while unchanged, 200 once they change."""

from __future__ import annotations

import pytest

from strata.people.actions import update_contact_details

pytestmark = pytest.mark.django_db

DETAILS = {
    "first_name": "Bob",
    "last_name": "B",
    "email": "bob@example.org",
    "phone": "1",
    "fax": "",
    "title": "",
}


@pytest.mark.parametrize("path", ["/people/", "/people/bob/"])
def test_unchanged_page_answers_304_and_a_change_answers_200(client, people, path):
    client.force_login(people["alice"])
    first = client.get(path)
    assert first.status_code == 200
    etag = first["ETag"]
    assert "private" in first["Cache-Control"]
    assert "no-cache" in first["Cache-Control"]
    again = client.get(path)
    assert again["ETag"] == etag  # the CSRF token is masked afresh on every render: not part of the tag

    unchanged = client.get(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["ETag"] == etag

    update_contact_details(people["bob"], **DETAILS, department="Moon base")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert b"Moon base" in changed.content
    assert changed["ETag"] != etag


def test_tag_is_per_person(client, people):
    """Another person's view of the same page (their name in the nav, their CSRF secret) differs."""
    client.force_login(people["alice"])
    alice_tag = client.get("/people/bob/")["ETag"]
    client.logout()
    client.force_login(people["carol"])
    resp = client.get("/people/bob/", headers={"If-None-Match": alice_tag})
    assert resp.status_code == 200
    assert resp["ETag"] != alice_tag
