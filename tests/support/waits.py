"""Polling for conditions that servers reach on their own time (mail delivered, a task run)."""

from __future__ import annotations

import time


def wait_for(fn, timeout: float = 30.0, what: str = "condition", interval: float = 0.3):
    """Call FN until it returns a true value and return that; fail after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
