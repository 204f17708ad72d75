"""Thin views of the messaging app; the work is in actions.py.

Pages work without JavaScript; messaging.js sends forms with fetch() (header X-Requested-With: fetch) and
gets HTML fragments back, and fetches new messages when the live stream (live.js) announces them.
"""

import hmac
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from . import actions
from .actions import MessagingError
from .mailtext import InboundError
from .models import MailPreference

log = logging.getLogger("strata.messaging.inbound")
PAGE_MESSAGES = 200


def _is_fetch(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _error(request, exc: MessagingError, template: str | None = None, context: dict | None = None):
    if _is_fetch(request) or template is None:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    return render(request, template, {**(context or {}), "error": exc.message}, status=exc.status)


def _inbox_context(request, **extra):
    q = request.GET.get("q", "").strip()[: actions.MAX_QUERY]
    memberships = list(actions.conversations_for(request.user)[:100])
    return {
        "memberships": memberships,
        "q": q,
        "results": list(actions.search_messages(request.user, q)[: actions.SEARCH_LIMIT]) if q else None,
        "form": {"to": request.GET.get("to", "")[:160], "subject": "", "body": ""},
        **extra,
    }


@login_required
@require_safe
@never_cache
def inbox(request):
    """List the person's conversations, search them, and start a new one."""
    if _is_fetch(request):
        return render(request, "messaging/_conversation_list.html", _inbox_context(request))
    return render(request, "messaging/inbox.html", _inbox_context(request))


@login_required
@require_POST
def start(request):
    """Start a conversation with a person or a group."""
    data = {k: request.POST.get(k, "") for k in ("to", "subject", "body")}
    try:
        msg = actions.start_conversation(request.user, data["to"], data["subject"], data["body"])
    except MessagingError as exc:
        ctx = _inbox_context(request)
        ctx["form"] = {k: v[:10000] for k, v in data.items()}
        return _error(request, exc, "messaging/inbox.html", ctx)
    return redirect(msg.conversation)


@login_required
@require_safe
@never_cache
def conversation(request, pk):
    """Show a conversation (its latest messages) and mark it read."""
    try:
        participant = actions.get_participant_for_user(request.user, pk)
    except MessagingError as exc:
        raise Http404(exc.message) from None
    conv = participant.conversation
    recent = list(conv.messages.select_related("sender").order_by("-id")[:PAGE_MESSAGES])[::-1]
    people = [p.user for p in conv.participants.select_related("user").order_by("user__username")[:50]]
    actions.mark_read(participant)
    return render(
        request,
        "messaging/conversation.html",
        {
            "conversation": conv,
            "chat": recent,
            "people": people,
            "participant": participant,
            "truncated": len(recent) == PAGE_MESSAGES,
        },
    )


@login_required
@require_safe
@never_cache
def messages_after(request, pk, after):
    """Return the messages newer than AFTER as an HTML fragment (messaging.js asks when the stream says)."""
    try:
        participant = actions.get_participant_for_user(request.user, pk)
    except MessagingError as exc:
        return _error(request, exc)
    newer = list(
        participant.conversation.messages.filter(id__gt=after)
        .select_related("sender")
        .order_by("id")[:PAGE_MESSAGES]
    )
    if newer:
        actions.mark_read(participant)
    response = render(request, "messaging/_messages.html", {"chat": newer})
    response["X-Unread"] = str(actions.unread_total(request.user))
    return response


@login_required
@require_POST
def send(request, pk):
    """Post a message to a conversation: the new message's fragment for fetch(), else a redirect."""
    try:
        participant = actions.get_participant_for_user(request.user, pk)
        msg = actions.post_message(participant.conversation, request.user, request.POST.get("body", ""))
    except MessagingError as exc:
        return _error(request, exc)
    if _is_fetch(request):
        return render(request, "messaging/_messages.html", {"chat": [msg]}, status=201)
    return redirect(participant.conversation)


@login_required
@require_GET
@never_cache
def unread(request):
    return JsonResponse({"unread": actions.unread_total(request.user)})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request):
    """Let the person choose whether a new message sends them an email."""
    pref = MailPreference.objects.filter(user=request.user).first()
    current = pref.notify if pref else MailPreference.IMMEDIATELY
    status = 200
    error = ""
    if request.method == "POST":
        try:
            current = actions.set_mail_preference(request.user, request.POST.get("notify", "")).notify
            return redirect("messaging:preferences")
        except MessagingError as exc:
            error, status = exc.message, exc.status
    return render(
        request,
        "messaging/preferences.html",
        {"choices": MailPreference.CHOICES, "current": current, "error": error},
        status=status,
    )


@csrf_exempt  # a machine endpoint: authenticated by the comms host's address and a shared secret
@never_cache
@require_http_methods(["GET", "POST"])
def inbound(request):
    """Take one email from Postfix's pipe (comms hosts only) and add it to its conversation."""
    c = settings.STRATA_COMMS
    meta = request.META
    # Only straight from a comms host: never through nginx (which always sets X-Forwarded-For).
    if (
        not c
        or "STRATA_PROXY_ADDR" in meta
        or meta.get("HTTP_X_FORWARDED_FOR")
        or meta.get("REMOTE_ADDR") not in c["inbound_addresses"]
    ):
        raise Http404
    expected = "Bearer " + settings.SECRETS["comms_inbound_secret"]
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected.encode()):
        log.warning("inbound mail refused: wrong shared secret from %s", meta.get("REMOTE_ADDR"))
        return HttpResponse("4.7.0 not authorised", status=401, content_type="text/plain")
    if request.method == "GET":
        return HttpResponse(status=204)  # the comms -> app link probe
    limit = settings.STRATA_MESSAGE_MAX_BYTES + 65536
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = limit + 1
    if length > limit:
        return HttpResponse("5.3.4 message too large", status=413, content_type="text/plain")
    # read() rather than .body: DATA_UPLOAD_MAX_MEMORY_SIZE is for forms; the limit above applies here.
    raw = request.read(limit + 1)
    try:
        actions.receive_reply(
            raw, request.headers.get("X-Strata-Recipient", ""), request.headers.get("X-Strata-Sender", "")
        )
    except InboundError as exc:
        return HttpResponse(exc.reason, status=exc.status, content_type="text/plain; charset=utf-8")
    return HttpResponse("2.0.0 added to the conversation", status=201, content_type="text/plain")
