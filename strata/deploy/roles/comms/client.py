"""The mail server's naming rules (reply addresses, sender, inbound path), its outbox and its probes.

Used by Django's settings and messaging app and by the deployer; no deployer machinery here.
"""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

from strata.deploy.config import Config
from strata.deploy.roles.app.client import cafile_of, connect
from strata.deploy.roles.probe import Health, timed

INBOUND_PATH = "/messages/inbound/"
INBOUND_PROBE_HEADER = "X-Strata-Probe"
REPLY_PREFIX = "reply+"
# Reply tokens are lower-case base32 (see strata.messaging.models.new_reply_token).
TOKEN_PATTERN = "[a-z2-7]{26}"  # noqa: S105 - a regular expression, not a secret


def reply_domain(config: Config) -> str:
    """Return the domain of the site's reply addresses (roles.comms.reply_domain or site.domain)."""
    comms = config.roles.get("comms")
    return (comms and comms["reply_domain"]) or config.site["domain"]


def from_address(config: Config) -> str:
    """Return the envelope and header sender of every notification."""
    comms = config.roles.get("comms")
    return (comms and comms["from_address"]) or f"noreply@{reply_domain(config)}"


def outbox_dir(var: Path) -> Path:
    return var / "data" / "comms" / "outbox" / "Maildir"


def starttls_context(config: Config) -> ssl.SSLContext | None:
    """Return the TLS context the app's SMTP sessions must start (STARTTLS, verified with the site CA)
    when the mail server is reached across hosts (Config.tls_into), else None (one machine: plain)."""
    if not config.tls_into("comms"):
        return None
    context = ssl.create_default_context(cafile=str(config.ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def start_tls(smtp: smtplib.SMTP, context: ssl.SSLContext | None) -> None:
    """Upgrade SMTP to TLS with CONTEXT (the server's certificate must name the address connected to);
    raise when the server does not offer STARTTLS. Nothing when CONTEXT is None."""
    if context is not None:
        smtp.starttls(context=context)  # raises SMTPNotSupportedError without STARTTLS: never plain


def _smtp_noop(address: str, port: int, context: ssl.SSLContext | None, timeout: float = 2) -> str:
    with smtplib.SMTP(address, port, timeout=timeout) as smtp:
        start_tls(smtp, context)
        code, _msg = smtp.noop()
        if code != 250:
            raise RuntimeError(f"NOOP answered {code}")
    return f"SMTP {address}:{port} NOOP 250" + (" over TLS" if context else "")


def inbound_checks(config: Config, secrets: dict) -> list[Health]:
    """Check the comms -> app link: each app server's inbound endpoint accepts the comms host's probe."""
    comms_host = config.host_of("comms")
    out = []
    for inst in config.app_instances():

        def check(inst=inst):
            # From the comms host's address when this machine has it, as Postfix's pipe would; over
            # HTTPS verified with the site CA when the app servers speak TLS.
            address, port, cafile = inst.host.address, inst.port, cafile_of(config)
            conn = connect(address, port, cafile, 3, source_address=(comms_host.address, 0))
            try:
                conn.connect()
            except ssl.SSLError:
                raise
            except OSError:
                conn = connect(address, port, cafile, 3)
            try:
                conn.request(
                    "GET",
                    INBOUND_PATH,
                    headers={
                        "Host": inst.host.address,
                        INBOUND_PROBE_HEADER: "1",
                        "Authorization": f"Bearer {secrets.get('comms_inbound_secret', '')}",
                    },
                )
                status = conn.getresponse().status
            finally:
                conn.close()
            if status != 204:
                raise RuntimeError(f"{inst.name}: inbound endpoint answered HTTP {status}")
            return f"{inst.name} accepts inbound mail"

        out.append(timed(check))
    return out


def probe(config: Config, secrets: dict, host) -> Health:
    """Connect over SMTP and send NOOP."""
    return timed(lambda: _smtp_noop(host.address, config.roles["comms"]["port"], starttls_context(config)))
