"""Decide when a login or a password-reset request must wait, from the counters in AttemptCounter.

Logins: failures are counted per (username, address) pair and per address, never per username alone,
so nobody can lock someone else's account from their own address, and a correct password is never
refused from an address that has not failed:

- a pair gets PAIR_FREE (5) failures without delay; after failure n >= 5 it must wait 2^(n-5) s
  (1 s, 2 s, 4 s, ...) up to CAP (15 min) before the next try. Guessing one account from one address
  then costs ~100 tries a day, while the person typing their own password wrong five times waits a second.
- an address gets ADDRESS_FREE (50) failures, across all usernames, without delay (an office behind one
  NAT mistyping many names); after failure n >= 50 every login from it waits 2^(n-50) s up to CAP. This
  stops one address from spraying one password over many usernames.
- a try that arrives while it must wait is refused (HTTP 429, `Retry-After`) without checking the
  password and without counting. A successful login clears its pair's counter (not the address's: one
  valid account must not reset an attacker's address). A counter is forgotten FORGET (24 h) after its
  last failure. `strata users unlock USERNAME [--address ADDR]` and the admin (Attempt counters, "Clear")
  clear counters at once: the emergency admin can always get in from the control machine.

Password-reset requests: at most RESET_PER_ADDRESS (5) per address and RESET_PER_ACCOUNT (3) per
account (the e-mail address asked for) per RESET_WINDOW (1 h). Over the limit the page says the same
"if the account exists, mail was sent" and no mail goes out, so the limit tells nothing about accounts.

State lives in the database (settings.CACHES is the per-process default, and several app servers must
see the same counters): one upsert per failure or reset request, one delete per successful login.
"""

from __future__ import annotations

import datetime as dt

PAIR_FREE = 5
ADDRESS_FREE = 50
CAP = 15 * 60  # seconds
FORGET = dt.timedelta(hours=24)
RESET_PER_ADDRESS = 5
RESET_PER_ACCOUNT = 3
RESET_WINDOW = dt.timedelta(hours=1)


def username(request, credentials=None) -> str:
    """Return the attempted username as logins match it (case-insensitive), bounded to the column's
    size so an oversized name is counted instead of failing to save (NUL, which PostgreSQL's text
    refuses, becomes U+FFFD: a name with one still counts, and apart from the same name without it)."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return counted_name(value)


def counted_name(value) -> str:
    """Return VALUE, a username as typed, as the login counters key it (see username())."""
    return str(value).replace("\x00", "\ufffd").strip().lower()[:150]


def address(request) -> str:
    """Return the caller's address as the web tier gave it (ops.middleware trusts only nginx)."""
    return str(request.META.get("REMOTE_ADDR") or "")[:64]


def delay(failures: int, free: int) -> int:
    """Return how many seconds after the last failure the next try must wait, after FAILURES of a
    counter that allows FREE failures without delay."""
    if failures < free:
        return 0
    return min(2 ** min(failures - free, 20), CAP)


def wait_seconds(counters, now: dt.datetime) -> int:
    """Return the seconds a login must still wait, given the pair's and the address's COUNTERS (0: go)."""
    from .models import AttemptCounter

    frees = {AttemptCounter.LOGIN_PAIR: PAIR_FREE, AttemptCounter.LOGIN_ADDRESS: ADDRESS_FREE}
    wait = 0.0
    for c in counters:
        if c.kind not in frees or now - c.last_at > FORGET:
            continue
        until = c.last_at + dt.timedelta(seconds=delay(c.count, frees[c.kind]))
        wait = max(wait, (until - now).total_seconds())
    return int(wait) + (1 if wait % 1 else 0)
