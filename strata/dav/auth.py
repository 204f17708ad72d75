"""Who is asking: HTTP Basic with the person's password (the directory's bind when the domain role is on,
Django's accounts otherwise) or one of their app passwords, under the web login's limits
(strata.accounts.lockout: the same counters, so failures over WebDAV and on the login page add up).

A drive client sends the password with every request: a verified login is remembered in this process for
REMEMBER seconds under an HMAC of the credentials (never the password itself), so that a folder listing
is not one password hash (or one LDAP bind) per request. Whether the person is still active is read from
the database on every request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
import types
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model

from strata.accounts import actions as accounts
from strata.accounts import lockout
from strata.accounts.principal import ServicePrincipal

REALM = "Strata"
REMEMBER = 300  # seconds
MAX_REMEMBERED = 10_000
MAX_CREDENTIALS = 1024  # bytes of a decoded Basic value


@dataclass
class Refusal:
    status: int
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)


def challenge(message: str) -> Refusal:
    return Refusal(401, message, [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')])


_remembered: dict[str, tuple[int, float]] = {}
_lock = threading.Lock()


def _fingerprint(username: str, password: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{username}\0{password}".encode(), hashlib.sha256).hexdigest()


def _recall(fingerprint: str):
    with _lock:
        found = _remembered.get(fingerprint)
    if found is None or found[1] < time.monotonic():
        return None
    return get_user_model().objects.filter(pk=found[0], is_active=True).first()


def _remember(fingerprint: str, user_id: int) -> None:
    with _lock:
        if len(_remembered) >= MAX_REMEMBERED:
            now = time.monotonic()
            for k in [k for k, (_, until) in _remembered.items() if until < now] or list(_remembered):
                del _remembered[k]
        _remembered[fingerprint] = (user_id, time.monotonic() + REMEMBER)


def forget_all() -> None:
    """Forget every remembered login (tests; a revoked app password is forgotten within REMEMBER)."""
    with _lock:
        _remembered.clear()


def _credentials(environ: dict) -> tuple[str, str] | None:
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic" or len(value) > MAX_CREDENTIALS * 2:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep and username else None


def _check_password(username: str, password: str):
    """Return (user, directory_down) for USERNAME and PASSWORD: an app password, else a login."""
    if password.startswith(accounts.TOKEN_PREFIX):
        token = accounts.token_for(password)
        if token is None:
            return None, False
        holder = ServicePrincipal(token.service) if token.service is not None else token.user
        if holder is None or holder.get_username().lower() != username.lower():
            return None, False
        return holder, False
    # django-auth-ldap notes on the request object when the directory did not answer.
    probe = types.SimpleNamespace(META={}, strata_directory_unavailable=False)
    user = authenticate(probe, username=username, password=password)  # type: ignore[arg-type]
    return user, bool(probe.strata_directory_unavailable)


def basic_login(environ: dict):
    """Return the active person the request's Basic credentials name, or a Refusal (401, 429 or 503)."""
    found = _credentials(environ)
    if found is None:
        return challenge("Log in with your username and password (or an app password).")
    username, password = found
    fingerprint = _fingerprint(username, password)
    user = _recall(fingerprint)
    if user is not None:
        return user
    counted, address = lockout.counted_name(username), str(environ.get("REMOTE_ADDR") or "")[:64]
    wait = accounts.login_wait(counted, address)
    if wait:
        return Refusal(429, f"Too many failed logins: try again in {wait} s.", [("Retry-After", str(wait))])
    user, directory_down = _check_password(username, password)
    if directory_down:
        return Refusal(503, "The directory is unavailable, so you cannot log in right now.")
    if user is None or not user.is_active:
        accounts.record_login_failure(counted, address)
        return challenge("Wrong username or password.")
    accounts.record_login_success(counted, address)
    if user.pk is not None:  # a service's token is one digest lookup: nothing to remember
        _remember(fingerprint, user.pk)
    return user
