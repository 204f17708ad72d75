"""Read the local outbox: the Maildir where Postfix keeps all outgoing mail when no relay is set."""

from __future__ import annotations

import email
import email.parser
import email.policy
from dataclasses import dataclass
from pathlib import Path

from strata.deploy.roles.comms.client import outbox_dir


@dataclass(frozen=True)
class OutboxMail:
    path: Path
    to: str
    sender: str
    subject: str
    message_id: str
    date: str

    def message(self) -> email.message.EmailMessage:
        with self.path.open("rb") as fh:
            return email.message_from_binary_file(fh, policy=email.policy.default)


def list_outbox(var: Path) -> list[OutboxMail]:
    """Return every message in the outbox, oldest first."""
    root = outbox_dir(var)
    files = [p for sub in ("new", "cur") if (root / sub).is_dir() for p in (root / sub).iterdir()]
    out = []
    for path in sorted(files, key=lambda p: (p.stat().st_mtime, p.name)):
        with path.open("rb") as fh:
            # Headers only: the bodies may be large and are read on demand.
            msg = email.parser.BytesHeaderParser(policy=email.policy.default).parse(fh)
        out.append(
            OutboxMail(
                path,
                str(msg.get("X-Original-To") or msg.get("To") or ""),
                str(msg.get("From") or ""),
                str(msg.get("Subject") or ""),
                str(msg.get("Message-ID") or ""),
                str(msg.get("Date") or ""),
            )
        )
    return out
