"""Finding files by name among those a person may read."""

from __future__ import annotations

import unicodedata

from .. import access
from ..models import File


def search(user, query: str, limit: int = 100):
    """Return up to LIMIT readable files whose name holds every word of QUERY (case-insensitive)."""
    terms = (query or "").split()[:8]
    if not terms:
        return File.objects.none()
    q = access.readable_files(user)
    for term in terms:
        q = q.filter(name__icontains=unicodedata.normalize("NFC", term)[:100])
    return q.select_related("space", "folder").order_by("name")[:limit]
