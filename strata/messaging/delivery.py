"""Turning a queued Notification into an email and handing it to the comms server (Postfix) over SMTP."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from django.conf import settings

from strata.deploy.roles.comms.client import start_tls

from .mailtext import one_line
from .models import Notification

# Retries while the comms server is down: 2 s, 4 s, 8 s ... at most 10 min apart, for up to 3 days.
RETRY_CAP_SECONDS = 600
GIVE_UP_AFTER = timedelta(days=3)


def comms() -> dict | None:
    """Return the comms role's settings for the app, or None when the role is off (no email at all)."""
    return settings.STRATA_COMMS


def require_comms() -> dict:
    """Return the comms role's settings; raise when the role is off (callers only run when it is on)."""
    c = settings.STRATA_COMMS
    if c is None:
        raise RuntimeError("the comms role is off: no email is sent")
    return c


def build_email(n: Notification) -> EmailMessage:
    """Return the email for notification N: the same bytes-to-be on every attempt (same Message-ID)."""
    c = require_comms()
    local, _, domain = c["from_address"].rpartition("@")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(
        display_name=one_line(n.from_name or settings.SITE["name"], 200), username=local, domain=domain
    )
    msg["To"] = n.to_address
    if n.reply_to:
        msg["Reply-To"] = n.reply_to
    msg["Subject"] = n.subject
    msg["Date"] = format_datetime(n.created_at)
    msg["Message-ID"] = n.msgid
    # Tell vacation responders not to answer (RFC 3834).
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(n.body)
    return msg


def submit(n: Notification) -> None:
    """Send notification N's email to the comms server; raise what smtplib raises."""
    c = require_comms()
    # local_hostname: smtplib would otherwise look this machine's name up (a DNS query) for EHLO.
    with smtplib.SMTP(c["address"], c["port"], timeout=20, local_hostname=c["helo"]) as smtp:
        start_tls(smtp, c["tls"])  # across hosts: STARTTLS verified with the site CA, or no mail at all
        smtp.send_message(build_email(n), from_addr=c["from_address"], to_addrs=[n.to_address])


def is_permanent(exc: Exception) -> bool:
    """Return whether the SMTP failure EXC is final (5xx): retrying would not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", 0)
    return isinstance(code, int) and code >= 500
