"""Every write of the messaging app, and the lookups that decide who may see what.

Views, the task worker, the inbound mail endpoint and the tests all come through here. Email is sent only
when the comms role is on (settings.STRATA_COMMS); otherwise messages stay in the app.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from strata.live.actions import publish
from strata.live.models import Event

from .delivery import comms, require_comms
from .mailtext import (
    REPLY_MARKER,
    InboundError,
    body_text,
    has_control_chars,
    one_line,
    parse_email,
    reply_token,
    sender_address,
    trim_reply,
)
from .models import Conversation, MailPreference, Message, Notification, Participant
from .tasks import deliver_notification as deliver_notification  # re-exported: the worker's side
from .tasks import send_notification

log = logging.getLogger("strata.messaging")
inbound_log = logging.getLogger("strata.messaging.inbound")

MAX_SUBJECT = 200
MAX_QUERY = 200
SEARCH_LIMIT = 50
REPLY_PREFIX = "reply+"


class MessagingError(Exception):
    """Bad input or a refused action, with a message for the person and an HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def display_name(user) -> str:
    return one_line(user.get_full_name() or user.get_username(), 120)


# --- access -------------------------------------------------------------------------------------------


def _reachable(user) -> Q:
    """Filter on Participant: the user's memberships they may still use (group conversations: members)."""
    return Q(user=user) & (
        Q(conversation__group__isnull=True) | Q(conversation__group__in=user.groups.values("pk"))
    )


def get_participant_for_user(user, conversation_id: int) -> Participant:
    """Return USER's membership of the conversation, or raise MessagingError(404)."""
    found = (
        Participant.objects.filter(_reachable(user), conversation_id=conversation_id)
        .select_related("conversation", "conversation__group")
        .first()
    )
    if found is None:
        raise MessagingError("There is no such conversation, or you are not in it.", 404)
    return found


def conversations_for(user) -> QuerySet:
    """Return the user's memberships, most recent conversation first, with what the list shows."""
    return (
        Participant.objects.filter(_reachable(user))
        .select_related("conversation", "conversation__group")
        .order_by("-conversation__last_message_at", "-conversation_id")
    )


def unread_total(user) -> int:
    """Return how many messages the user has not read yet (one query: the nav shows it on every page)."""
    return Participant.objects.filter(_reachable(user)).aggregate(n=Sum("unread"))["n"] or 0


def unread_totals(user_ids: list[int]) -> dict[int, int]:
    """Return each user's unread count (as unread_total) for many users at once, in one query."""
    reachable = Q(conversation__group__isnull=True) | Q(conversation__group__user=F("user_id"))
    rows = (
        Participant.objects.filter(reachable, user_id__in=user_ids)
        .values("user_id")
        .annotate(n=Sum("unread"))
        .values_list("user_id", "n")
    )
    totals = dict.fromkeys(user_ids, 0)
    totals.update({uid: n or 0 for uid, n in rows})
    return totals


def search_messages(user, query: str) -> QuerySet:
    """Return messages of the user's own conversations holding every term of QUERY, newest first."""
    terms = (query or "")[:MAX_QUERY].split()[:8]
    mine = Participant.objects.filter(_reachable(user)).values("conversation_id")
    found = (
        Message.objects.filter(conversation_id__in=mine)
        .select_related("sender", "conversation")
        .order_by("-id")
    )
    if not terms:
        return found.none()
    for term in terms:
        found = found.filter(body__icontains=term)
    return found


# --- input ----------------------------------------------------------------------------------------------


def clean_subject(subject: str) -> str:
    subject = (subject or "").strip()
    if has_control_chars(subject):
        raise MessagingError("The subject must be a single line (no line breaks or control characters).")
    if len(subject) > MAX_SUBJECT:
        raise MessagingError(f"The subject is too long: at most {MAX_SUBJECT} characters.")
    return subject


def clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise MessagingError("Write a message first.")
    if "\x00" in body:
        raise MessagingError("The message holds a NUL character, which cannot be stored.")
    limit = settings.STRATA_MESSAGE_MAX_BYTES
    if len(body.encode("utf-8")) > limit:
        raise MessagingError(f"The message is too long: at most {limit // 1024} KB.", 413)
    return body


def resolve_recipient(sender, to: str):
    """Return the active user or the group TO names ("group:NAME" forces a group); raise MessagingError."""
    to = (to or "").strip()
    if not to:
        raise MessagingError("Say who the message is for: a username or a group name.")
    if has_control_chars(to) or len(to) > 160:
        raise MessagingError("There is no person or group with that name.")
    User = get_user_model()
    if not to.startswith("group:"):
        person = User.objects.filter(is_active=True, **{User.USERNAME_FIELD: to}).first()
        if person is not None:
            if person.pk == sender.pk:
                raise MessagingError("You cannot start a conversation with yourself.")
            return person
    name = to.removeprefix("group:")
    group = Group.objects.filter(name=name).first()
    if group is None:
        raise MessagingError(f"There is no person or group called “{to}”.")
    if not sender.groups.filter(pk=group.pk).exists():
        raise MessagingError(f"You are not a member of the group “{name}”, so you cannot write to it.", 403)
    return group


# --- writes -----------------------------------------------------------------------------------------------


def start_conversation(sender, to: str, subject: str, body: str) -> Message:
    """Open a conversation with a person or a group and post its first message."""
    target = resolve_recipient(sender, to)
    subject, body = clean_subject(subject), clean_body(body)
    is_group = isinstance(target, Group)
    with transaction.atomic():
        conv = Conversation.objects.create(
            subject=subject, is_group=is_group, group=target if is_group else None, created_by=sender
        )
        members = [sender] if is_group else [sender, target]
        Participant.objects.bulk_create([Participant(conversation=conv, user=u) for u in members])
        return post_message(conv, sender, body)


def post_message(
    conversation: Conversation, sender, body: str, *, via: str = Message.WEB, email_message_id: str = ""
) -> Message:
    """Add a message, bump the others' unread counts and notify them; an email seen before is not re-added."""
    body = clean_body(body)
    with transaction.atomic():
        # One writer per conversation at a time keeps the unread counts exact.
        conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if email_message_id:
            seen = Message.objects.filter(conversation=conv, email_message_id=email_message_id).first()
            if seen is not None:
                return seen
        if conv.group_id:
            _add_group_members(conv)
        msg = Message.objects.create(
            conversation=conv, sender=sender, body=body, via=via, email_message_id=email_message_id
        )
        Conversation.objects.filter(pk=conv.pk).update(last_message_at=msg.created_at)
        others = Participant.objects.filter(conversation=conv).exclude(user=sender)
        if conv.group_id:
            others = others.filter(user__groups=conv.group_id)
        others.update(unread=F("unread") + 1)
        mine = Participant.objects.filter(conversation=conv, user=sender)
        mine.update(unread=0, last_read_at=msg.created_at)
        _publish_message(conv, msg, sender, list(others.values_list("user_id", flat=True)))
        if comms():
            _notify_participants(conv, msg, sender, others)
    return msg


def _publish_message(conv: Conversation, msg: Message, sender, recipients: list[int]) -> None:
    """Tell the recipients' open pages (strata.live): the message, its conversation and their unread count."""
    totals = unread_totals(recipients)
    common = {
        "conversation": conv.pk,
        "message": msg.pk,
        "from": display_name(sender),
        "subject": one_line(conv.subject, 200),
        "text": one_line(msg.body, 140),
        "url": conv.get_absolute_url(),
    }
    publish(recipients, Event.MESSAGE, lambda uid: {**common, "unread": totals[uid]})


def _add_group_members(conv: Conversation) -> None:
    members = (
        get_user_model().objects.filter(groups=conv.group_id, is_active=True).values_list("pk", flat=True)
    )
    Participant.objects.bulk_create(
        [Participant(conversation=conv, user_id=pk) for pk in members], ignore_conflicts=True
    )


def mark_read(participant: Participant) -> None:
    """Mark every message of the conversation read for this participant."""
    if participant.unread:
        with transaction.atomic():
            Participant.objects.filter(pk=participant.pk).update(unread=0, last_read_at=timezone.now())
            # The person's other open pages update their unread badge.
            user_id = participant.user_id
            total = unread_totals([user_id])[user_id]
            publish([user_id], Event.UNREAD, lambda _uid: {"unread": total})
        participant.unread = 0


def set_mail_preference(user, notify: str) -> MailPreference:
    """Save whether USER gets an email for each new message."""
    if notify not in dict(MailPreference.CHOICES):
        raise MessagingError("Choose one of the offered options.")
    pref, _ = MailPreference.objects.update_or_create(user=user, defaults={"notify": notify})
    return pref


def _wants_mail(user) -> bool:
    try:
        return user.mail_preference.notify != MailPreference.NEVER
    except MailPreference.DoesNotExist:
        return True


def _notify_participants(conv: Conversation, msg: Message, sender, others: QuerySet) -> None:
    url = settings.STRATA_SITE_URL.rstrip("/") + conv.get_absolute_url()
    name = display_name(sender)
    group = conv.group if conv.group_id else None
    topic = conv.subject or (f"the group {group.name}" if group else "a conversation")
    subject = f"{name}: {conv.subject}" if conv.subject else f"New message from {name}"
    if group:
        subject = f"[{one_line(group.name, 60)}] {subject}"
    text = (
        f"{REPLY_MARKER}\n\n{name} wrote in {topic}:\n\n{msg.body}\n\n-- \n"
        f"Open the conversation: {url}\n"
        f"Reply to this email to answer. Change when you get these emails: "
        f"{settings.STRATA_SITE_URL.rstrip('/')}/messages/settings/\n"
    )
    domain = require_comms()["reply_domain"]
    for p in others.select_related("user", "user__mail_preference"):
        notify(
            p.user,
            subject,
            text,
            url,
            reply_to=f"{REPLY_PREFIX}{p.reply_token}@{domain}",
            message=msg,
            from_name=f"{name} via {settings.SITE['name']}",
        )


def notify(
    user,
    subject: str,
    body: str,
    url: str = "",
    *,
    reply_to: str = "",
    message: Message | None = None,
    from_name: str = "",
) -> Notification | None:
    """Queue an email to USER unless email is off, they chose "never", or their address is unusable.

    The hook for other apps (e.g. files: "a file was shared with you"); URL is appended when not in BODY.
    """
    if not comms() or not user.is_active or not user.email or not _wants_mail(user):
        return None
    if url and url not in body:
        body = f"{body}\n\n{url}\n"
    try:
        return queue_email(
            user.email, subject, body, user=user, message=message, reply_to=reply_to, from_name=from_name
        )
    except MessagingError as exc:
        log.warning("no notification for user %s: %s", user.pk, exc.message)
        return None


def queue_email(
    to_address: str,
    subject: str,
    body: str,
    *,
    user=None,
    message: Message | None = None,
    reply_to: str = "",
    from_name: str = "",
) -> Notification:
    """Store one email with its final Message-ID and enqueue its sending (atomically with the caller)."""
    if not comms():
        raise MessagingError("Email is off on this site (no communications server).")
    to_address = (to_address or "").strip()
    try:
        if has_control_chars(to_address):
            raise ValidationError("control characters")
        validate_email(to_address)
    except ValidationError:
        raise MessagingError(f"Not a usable email address: {one_line(to_address, 80)!r}") from None
    if has_control_chars(subject) or has_control_chars(reply_to):
        raise MessagingError("Email headers must be single lines.")
    with transaction.atomic():
        n = Notification.objects.create(
            user=user,
            message=message,
            to_address=to_address,
            from_name=one_line(from_name, 200),
            reply_to=reply_to,
            subject=one_line(subject, 300),
            body=body,
            msgid=make_msgid(domain=require_comms()["reply_domain"]),
            next_attempt_at=timezone.now(),
        )
        send_notification.enqueue(n.pk)
    return n


# --- replies by email ---------------------------------------------------------------------------------------


def receive_reply(raw: bytes, recipient: str, envelope_sender: str = "") -> Message:
    """Add the reply RAW (an email to RECIPIENT, a reply address) to its conversation; raise InboundError."""
    c = comms()
    where = f"to={one_line(recipient, 40)[:14]}… from={one_line(envelope_sender, 120)!r}"
    try:
        if c is None:
            raise InboundError(404, "5.1.1 email is off on this site")
        if len(raw) > settings.STRATA_MESSAGE_MAX_BYTES + 65536:
            raise InboundError(413, "5.3.4 message too large")
        token = reply_token(recipient, REPLY_PREFIX, c["reply_domain"])
        participant = None
        if token:
            participant = (
                Participant.objects.select_related("conversation", "user").filter(reply_token=token).first()
            )
        if participant is None:
            raise InboundError(404, "5.1.1 unknown reply address: reply to a notification from this site")
        user = participant.user
        msg = parse_email(raw)
        if not user.is_active or sender_address(msg) != (user.email or "").strip().lower():
            raise InboundError(
                403,
                "5.7.1 this reply address belongs to someone else: reply from the "
                "address the notification was sent to",
            )
        try:
            get_participant_for_user(user, participant.conversation_id)
        except MessagingError:
            raise InboundError(403, "5.7.1 you can no longer write to this conversation") from None
        text = trim_reply(body_text(msg))
        if not text.strip():
            raise InboundError(400, "5.6.0 the reply is empty once the quoted text is removed")
        message_id = one_line(str(msg.get("Message-ID") or ""), 255)
        try:
            created = post_message(
                participant.conversation, user, text, via=Message.EMAIL, email_message_id=message_id
            )
        except MessagingError as exc:
            raise InboundError(413 if exc.status == 413 else 400, f"5.6.0 {exc.message}") from None
    except InboundError as exc:
        inbound_log.warning("rejected inbound mail %s: %s", where, exc.reason)
        raise
    inbound_log.info(
        "reply added to conversation %s as message %s (%s)", created.conversation_id, created.pk, where
    )
    return created
