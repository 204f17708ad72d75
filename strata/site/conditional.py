"""Conditional GET for pages: an ETag over what the page shows, and 304 Not Modified when it is unchanged.

The tag is a hash of the rendered page with its CSRF tokens blanked (Django masks the token afresh on
every render, so two renders of the same page never match byte for byte) plus the CSRF secret the tokens
stand for: a browser that revalidates gets 304 and keeps its copy, whose tokens stay valid as long as
that secret does. The page is still rendered (its rows, the nav); what a 304 saves is sending it.
"""

from __future__ import annotations

import hashlib
import re
from functools import wraps

from django.utils.cache import get_conditional_response, patch_cache_control

_CSRF_VALUE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def page_etag(request, content: bytes) -> str:
    """Return the strong ETag of a page's CONTENT as REQUEST's browser would see it."""
    digest = hashlib.blake2b(_CSRF_VALUE.sub(rb"\1\2", content), digest_size=16)
    digest.update(request.META.get("CSRF_COOKIE", "").encode())
    return f'"{digest.hexdigest()}"'


def etag_page(view):
    """Give VIEW's successful GET/HEAD pages an ETag; answer 304 when If-None-Match names it."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.streaming:
            return response
        # Private (the page is this person's) and revalidated on every visit.
        patch_cache_control(response, private=True, no_cache=True)
        etag = page_etag(request, response.content)
        response["ETag"] = etag
        return get_conditional_response(request, etag=etag, response=response) or response

    return inner
