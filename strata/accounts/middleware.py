"""The logged-in user, from each process's live cache when the session and the user row are unchanged."""

from __future__ import annotations

import copy

from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from strata.site.live import CACHE


def get_user(request):
    """Return the session's user as django.contrib.auth.get_user does, from memory when it can."""
    session = request.session
    user_id = session.get(auth.SESSION_KEY)
    backend = session.get(auth.BACKEND_SESSION_KEY)
    if user_id is None or backend is None:
        return auth.get_user(request)
    key = f"{user_id}"
    hit = CACHE.get("u", key)
    # The check auth.get_user makes on every request: the session belongs to this password. The user's
    # hash of it (an HMAC) is kept with the user: the row's change drops both.
    if (
        hit is not None
        and hit[0] == backend
        and constant_time_compare(session.get(auth.HASH_SESSION_KEY, ""), hit[2])
    ):
        return copy.copy(hit[1])  # each request gets its own object (views may set attributes)
    generation = CACHE.generation()
    user = auth.get_user(request)
    if user.is_authenticated:
        CACHE.put("u", key, (backend, copy.copy(user), user.get_session_auth_hash()), generation)
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: get_user(request))
