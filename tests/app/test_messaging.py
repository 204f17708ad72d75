"""Messaging actions in-process: conversations, sending, unread counts, search, input checks."""

from __future__ import annotations

import pytest

from strata.messaging import actions
from strata.messaging.actions import MessagingError
from strata.messaging.mailtext import InboundError
from strata.messaging.models import Message, Notification, Participant

pytestmark = pytest.mark.django_db


def test_conversation_unread_counts_and_read(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    msg = actions.start_conversation(alice, "bob", "Pineapple", "Pineapple for lunch?")
    conv = msg.conversation
    assert (conv.subject, conv.is_group) == ("Pineapple", False)
    assert actions.unread_total(bob) == 1
    assert actions.unread_total(alice) == 0
    actions.post_message(conv, alice, "Or mango?")
    assert actions.unread_total(bob) == 2
    bob_part = actions.get_participant_for_user(bob, conv.id)
    actions.mark_read(bob_part)
    assert actions.unread_total(bob) == 0
    actions.post_message(conv, bob, "Yes <b>please</b>\r\n")
    assert Message.objects.filter(conversation=conv).last().body == "Yes <b>please</b>"
    assert actions.unread_total(alice) == 1
    assert [p.conversation_id for p in actions.conversations_for(bob)] == [conv.id]
    with pytest.raises(MessagingError):
        actions.get_participant_for_user(carol, conv.id)
    assert not Notification.objects.exists()  # comms is off: no email attempted


def test_group_conversations_reach_members_only(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    msg = actions.start_conversation(alice, "research", "Crew", "Friday at noon")
    assert msg.conversation.is_group
    assert actions.unread_total(carol) == 1
    assert actions.unread_total(bob) == 0
    assert set(
        Participant.objects.filter(conversation=msg.conversation).values_list("user__username", flat=True)
    ) == {
        "alice",
        "carol",
    }
    with pytest.raises(MessagingError) as info:
        actions.start_conversation(bob, "group:research", "Hi", "let me in")
    assert info.value.status == 403


@pytest.mark.parametrize(
    ("to", "subject", "body", "message"),
    [
        ("", "s", "b", "Say who"),
        ("nobody", "s", "b", "no person or group"),
        ("alice", "s", "b", "yourself"),
        ("bob", "two\nlines", "b", "single line"),
        ("bob", "x" * 201, "b", "too long"),
        ("bob", "s", "   ", "Write a message"),
        ("bob", "s", "nul\x00", "NUL"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(people, to, subject, body, message):
    with pytest.raises(MessagingError, match=message):
        actions.start_conversation(people["alice"], to, subject, body)
    assert not Message.objects.exists()


def test_too_long_a_message_is_413(people, settings):
    settings.STRATA_MESSAGE_MAX_BYTES = 10
    with pytest.raises(MessagingError) as info:
        actions.start_conversation(people["alice"], "bob", "s", "x" * 11)
    assert info.value.status == 413


def test_search_covers_ones_own_conversations_only(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    actions.start_conversation(alice, "bob", "Lunch", "Pineapple for lunch?")
    actions.start_conversation(alice, "carol", "Other", "Pineapple cake")
    assert [m.body for m in actions.search_messages(bob, "pineapple")] == ["Pineapple for lunch?"]
    assert len(actions.search_messages(alice, "PINEAPPLE")) == 2
    assert [m.body for m in actions.search_messages(carol, "pineapple cake")] == ["Pineapple cake"]
    assert list(actions.search_messages(alice, "  ")) == []


def test_inbound_replies_are_refused_when_email_is_off(people):
    with pytest.raises(InboundError, match="email is off") as info:
        actions.receive_reply(b"Subject: hi\r\n\r\nhello", "reply+abc@example.org")
    assert info.value.status == 404
