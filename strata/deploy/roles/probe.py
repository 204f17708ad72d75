"""The result of a health probe, shared by every role's protocol client (no deployer machinery here)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    ms: float = 0.0


def timed(fn):
    """Run FN() -> detail; return Health, turning any OSError-like failure into a failed Health."""
    start = time.monotonic()
    try:
        detail = fn()
        return Health(True, detail or "ok", (time.monotonic() - start) * 1000)
    except Exception as exc:  # noqa: BLE001 - a probe reports every failure, it never raises
        return Health(False, f"{type(exc).__name__}: {exc}".strip()[:200], (time.monotonic() - start) * 1000)
