"""Functions that run on a lab host (plain Python inside its namespace, with its config, secrets and var/),
called by the lab tests through in_host; each returns JSON-able data."""

from __future__ import annotations

from strata.deploy import config as cfgmod
from strata.deploy.roles.files import client as s3


def stored_bytes() -> int:
    """Return the bytes held in the files bucket, asked of the file server from this host with the app's
    identity (an app host holds no S3 admin key)."""
    config = cfgmod.load()
    secrets = cfgmod.load_secrets(config)
    listing = s3.app_client(config, secrets).list_objects_v2(Bucket=config.roles["files"]["bucket"])
    return sum(o["Size"] for o in listing.get("Contents", []))


def submit_mail(sender: str, to: str, subject: str, text: str, tls: bool) -> list:
    """Submit one email to the comms host from this host over SMTP, with STARTTLS verified by the site CA
    (as the app does) or, with TLS false, in plain; return [code, reply] of the refusal, or [250, ""]."""
    import smtplib
    from email.message import EmailMessage

    from strata.deploy.roles.comms.client import start_tls, starttls_context

    config = cfgmod.load()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(text)
    comms = config.host_of("comms").address
    with smtplib.SMTP(comms, config.roles["comms"]["port"], timeout=20, local_hostname="app.test") as smtp:
        if tls:
            context = starttls_context(config)
            assert context is not None, "the app -> comms link is not TLS in this topology"
            start_tls(smtp, context)
        try:
            smtp.send_message(msg, from_addr=sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients[to]
            return [code, reply.decode()]
    return [250, ""]


def pitr_backups() -> list[str]:
    """Return the labels of pgBackRest's full backups (on the db host: its repository's config is there)."""
    from strata.deploy import local

    repo = local.pitr_repo()
    assert repo is not None, "point-in-time recovery is off in this topology"
    return [b["label"] for b in repo.backups()] if repo.info() else []
