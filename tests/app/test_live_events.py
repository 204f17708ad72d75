"""Live updates in-process: which writes publish which events (rows of the Event table, announced with
NOTIFY in the writer's transaction), the replay after a Last-Event-ID, pruning; and /people/suggest.json
for the pickers (who may ask, what it answers, its limits)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from strata.files.actions import create_folder, personal_space, share
from strata.live.actions import events_after, notice, prune_events
from strata.live.models import Event
from strata.messaging import actions
from strata.people.actions import update_contact_details

pytestmark = pytest.mark.django_db


def test_a_message_publishes_one_event_per_recipient_with_their_unread_count(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    actions.start_conversation(alice, "bob", "Lunch", "Pineapple?")
    msg = actions.start_conversation(alice, "research", "", "Friday")
    actions.post_message(msg.conversation, alice, "Noon")
    to_bob = list(Event.objects.filter(recipient=bob))
    assert [(e.kind, e.payload["text"], e.payload["unread"]) for e in to_bob] == [
        ("message", "Pineapple?", 1)
    ]
    to_carol = [e.payload for e in Event.objects.filter(recipient=carol).order_by("id")]
    assert [(p["text"], p["unread"], p["from"]) for p in to_carol] == [
        ("Friday", 1, "alice"),
        ("Noon", 2, "alice"),
    ]
    assert not Event.objects.filter(recipient=alice).exists()  # no event for one's own message
    actions.mark_read(actions.get_participant_for_user(carol, msg.conversation_id))
    assert Event.objects.filter(recipient=carol).last().payload == {"unread": 0}
    first = Event.objects.filter(recipient=carol).order_by("id").first()
    replay = events_after(carol.pk, first.pk)
    # The newer events, after the ones of the last seconds below Last-Event-ID (ids commit out of order).
    assert [(e.pk == first.pk, e.kind) for e in replay] == [
        (True, "message"),
        (False, "message"),
        (False, "unread"),
    ]
    Event.objects.filter(pk=first.pk).update(created=timezone.now() - timedelta(minutes=1))
    assert [e.kind for e in events_after(carol.pk, first.pk)] == ["message", "unread"]


def test_a_share_publishes_to_the_person_or_the_groups_members(people):
    alice, bob = people["alice"], people["bob"]
    folder = create_folder(alice, personal_space(alice), None, "Plans")
    share(alice, folder, username="bob")
    event = Event.objects.get(recipient=bob, kind=Event.SHARE)
    assert event.payload["text"] == "alice shared “Plans” with you"
    assert event.payload["url"] == f"/files/folder/{folder.pk}/"
    share(alice, folder, group="research")
    assert list(Event.objects.filter(kind=Event.SHARE).values_list("recipient__username", flat=True)) == [
        "bob",
        "carol",
    ]


def _start_then_fail(people) -> None:
    with transaction.atomic():
        actions.start_conversation(people["alice"], "bob", "", "never sent")
        raise RuntimeError("rolled back")


def test_events_belong_to_the_writers_transaction(people):
    with pytest.raises(RuntimeError):
        _start_then_fail(people)
    assert not Event.objects.exists()  # and so no NOTIFY either: PostgreSQL sends them at commit only
    big = Event(pk=7, recipient_id=people["bob"].pk, kind=Event.MESSAGE, payload={"text": "x" * 9000})
    assert "text" not in notice(big)  # too big for NOTIFY: the event server reads it from the table
    assert notice(Event(pk=8, recipient_id=3, kind=Event.UNREAD, payload={"unread": 2})) == (
        '{"id":8,"r":3,"k":"unread","p":{"unread":2}}'
    )


def test_old_events_are_pruned(people):
    actions.start_conversation(people["alice"], "bob", "", "old")
    actions.start_conversation(people["alice"], "carol", "", "new")
    Event.objects.filter(payload__text="old").update(created=timezone.now() - timedelta(days=2))
    assert prune_events() == 1
    assert list(Event.objects.values_list("payload__text", flat=True)) == ["new"]


# --- /people/suggest.json -------------------------------------------------------------------------------


def signed_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_suggest_finds_people_by_name_username_and_department_and_groups(people):
    alice, bob = people["alice"], people["bob"]
    update_contact_details(
        bob, first_name="Bob", last_name="Builder", email="", phone="", fax="", title="", department="Roads"
    )
    c = signed_in(alice)
    for q in ("bo", "build", "ROAD", "bob builder"):
        found = c.get("/people/suggest.json", {"q": q}).json()["results"]
        assert {
            "kind": "person",
            "username": "bob",
            "label": "Bob Builder",
            "department": "Roads",
        } in found, q
    groups = c.get("/people/suggest.json", {"q": "rese", "kind": "group"}).json()["results"]
    assert groups == [{"kind": "group", "name": "research", "label": "research"}]
    assert c.get("/people/suggest.json", {"q": "al"}).json()["results"] == []  # not oneself
    # mine=1 (the To field): only groups one belongs to.
    assert signed_in(bob).get("/people/suggest.json", {"q": "rese", "mine": "1"}).json()["results"] == []


def test_suggest_needs_a_session_two_letters_and_keeps_its_limits(people):
    from django.contrib.auth.models import User

    assert Client().get("/people/suggest.json", {"q": "bo"}).status_code == 401
    c = signed_in(people["alice"])
    short = c.get("/people/suggest.json", {"q": "b"})
    assert (short.status_code, short.json()["error"]) == (400, "Type at least 2 letters.")
    assert c.get("/people/suggest.json", {"q": "x" * 101}).status_code == 400
    assert c.get("/people/suggest.json", {"q": "bo", "kind": "robots"}).status_code == 400
    assert c.post("/people/suggest.json", {"q": "bo"}).status_code == 405
    User.objects.bulk_create([User(username=f"zed{i:02}") for i in range(30)])
    assert len(c.get("/people/suggest.json", {"q": "zed"}).json()["results"]) == 8
    assert len(c.get("/people/suggest.json", {"q": "zed", "limit": "500"}).json()["results"]) == 20
    User.objects.filter(username="zed00").update(is_active=False)
    found = c.get("/people/suggest.json", {"q": "zed0", "limit": "20"}).json()["results"]
    assert "zed00" not in [p["username"] for p in found]
