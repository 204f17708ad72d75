"""The comms role absent (the shared `stack` has none): messages stay in the app, no email is attempted,
and people's pages point to their own contact details."""

from __future__ import annotations

import pytest

from tests.support import in_site
from tests.support.client import Client, text_of
from tests.support.stack import add_people

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def users(stack):
    add_people(
        stack,
        [
            dict(
                username=username,
                password="correct horse battery " + username,
                first_name=first,
                last_name="Fallback",
                email=username + "@example.org",
                phone="+1 555 0111",
                fax="+1 555 0112",
            )
            for username, first in [("fb_ann", "Ann"), ("fb_bob", "Bob"), ("fb_cy", "Cy")]
        ],
    )


def login(stack, username) -> Client:
    c = Client(stack.url, stack.ca)
    assert "/accounts/login/" not in c.login(username, "correct horse battery " + username).url
    return c


def count(stack, model) -> int:
    return stack.call(in_site.messaging_rows, model)


def test_messages_stay_in_the_app_without_email(stack, users):
    ann, bob = login(stack, "fb_ann"), login(stack, "fb_bob")
    before = count(stack, "Notification")
    resp = ann.post(
        "/messages/new/", {"to": "fb_bob", "subject": "Pineapple", "body": "Pineapple for lunch?"}
    )
    assert resp.status == 200
    assert "Pineapple for lunch?" in resp.text
    conv = resp.url.rstrip("/").rsplit("/", 1)[-1]
    inbox = bob.get("/messages/")
    assert "data-unread-badge>1</span>" in inbox.text
    assert "Pineapple" in inbox.text
    page = bob.get(f"/messages/c/{conv}/")
    assert "Pineapple for lunch?" in page.text
    assert "data-unread-badge hidden" in bob.get("/messages/").text  # read now
    csrf = bob.cookie("csrftoken")
    sent = bob.request(
        "POST",
        f"/messages/c/{conv}/send/",
        {"csrfmiddlewaretoken": csrf, "body": "Yes <b>please</b>"},
        headers={"Origin": stack.url, "Referer": stack.url + "/", "X-Requested-With": "fetch"},
    )
    assert sent.status == 201
    assert "Yes &lt;b&gt;please&lt;/b&gt;" in sent.text
    assert "<html" not in sent.text
    assert count(stack, "Notification") == before  # no email attempted
    # Search covers one's own conversations only.
    assert "Pineapple for lunch?" in ann.get("/messages/?q=pineapple").text
    assert "Pineapple for lunch?" not in login(stack, "fb_cy").get("/messages/?q=pineapple").text


def test_people_pages_show_contact_details_and_the_note(stack, users):
    ann = login(stack, "fb_ann")
    for path in ("/people/fb_bob/", "/people/?q=fallback", "/messages/"):
        body = text_of(ann.get(path).text)
        assert "no communications server" in body, path
        assert "email, phone and fax" in body
    person = ann.get("/people/fb_bob/").text
    assert "fb_bob@example.org" in person
    assert "+1 555 0111" in person
    assert "+1 555 0112" in person
    assert "Send a message" in person


def test_no_password_reset_mail_and_no_inbound_endpoint(stack, users):
    anon = Client(stack.url, stack.ca)
    page = anon.get("/accounts/password/reset/")
    assert page.status == 200
    assert "Ask an administrator" in page.text
    anon.get("/accounts/login/")  # a CSRF cookie, so the POST reaches the view
    assert anon.post("/accounts/password/reset/", {"email": "fb_ann@example.org"}).status == 400
    assert anon.request("POST", "/messages/inbound/", {"x": "y"}).status == 404
    assert "no communications server" in text_of(login(stack, "fb_ann").get("/messages/settings/").text)
