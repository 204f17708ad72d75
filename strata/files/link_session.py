"""Remembering that a visitor entered a public link's password, so each file of a password-protected
folder link can then be downloaded with a plain GET (its links on the folder page).

A signed cookie (Django's signing with the site's secret key), host-only, HttpOnly, scoped to the path
of that one link (/s/TOKEN: the folder page and its files, nothing else), expiring after OPEN_SECONDS.
Its value names the link and a fingerprint of the link's password hash, so it opens nothing else. The
limit on wrong passwords (LinkPasswordTry) stays where it is: a cookie is only ever set after a right one.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import PublicLink

OPEN_SECONDS = 3600
SALT = "strata.files.link-opened"


def _name(link: PublicLink) -> str:
    return f"strata_link_{link.id}"


def _value(link: PublicLink) -> str:
    return f"{link.id}:{hashlib.sha256(link.password.encode()).hexdigest()[:32]}"


def is_open(request, link: PublicLink) -> bool:
    """Return whether REQUEST carries this link's cookie, unexpired and untampered."""
    if not link.password:
        return True
    try:
        value = request.get_signed_cookie(_name(link), salt=SALT, max_age=OPEN_SECONDS)
    except (KeyError, signing.BadSignature):
        return False
    return value == _value(link)


def remember(request, response, link: PublicLink) -> None:
    """Set the cookie that opens LINK (after its password was entered right) on RESPONSE."""
    if not link.password:
        return
    response.set_signed_cookie(
        _name(link),
        _value(link),
        salt=SALT,
        max_age=OPEN_SECONDS,
        path=reverse("files:public", args=[link.token]),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
