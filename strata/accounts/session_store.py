"""The database session engine with each process's live cache in front (see strata.site.live).

SESSION_ENGINE = "strata.accounts.session_store": sessions are still rows of django_session (so ending a
person's sessions, `clearsessions` and backups work as before); a request whose session is unchanged
reads it from memory instead of PostgreSQL.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.utils import timezone

from strata.site.live import CACHE


class SessionStore(DatabaseStore):
    def _get_session_from_db(self):
        key = self.session_key
        if not key:
            return super()._get_session_from_db()  # type: ignore[misc]  # not in django-stubs
        hit = CACHE.get("s", key)
        if hit is not None and hit.expire_date > timezone.now():
            return hit
        generation = CACHE.generation()
        row = super()._get_session_from_db()  # type: ignore[misc]  # not in django-stubs
        if row is not None:
            CACHE.put("s", key, row, generation)
        return row
