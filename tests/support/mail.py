"""The comms role's outbox: mail Postfix would have relayed, kept on disk for tests to read."""

from __future__ import annotations

from pathlib import Path

from strata.deploy.roles.comms.outbox import list_outbox


def outbox_to(var_dir: Path, address: str, subject_part: str = "") -> list:
    """Return the messages in the outbox under VAR_DIR sent to ADDRESS whose subject holds SUBJECT_PART."""
    return [m for m in list_outbox(Path(var_dir)) if m.to == address and subject_part in m.subject]
