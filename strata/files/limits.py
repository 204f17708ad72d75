"""Upload limits read from the files role's options (roles.files.*): one place for actions and multipart."""

from __future__ import annotations

from django.conf import settings

MiB = 1024 * 1024


def max_upload_bytes() -> int:
    """Return the largest file accepted, in bytes (roles.files.max_upload_mb)."""
    return settings.STRATA_FILES["max_upload_mb"] * MiB


def part_bytes() -> int:
    """Return the size of the parts uploads are cut into on their way to the store (roles.files.part_mb)."""
    return settings.STRATA_FILES["part_mb"] * MiB


def default_quota_bytes() -> int:
    """Return a person's quota when no admin set one (roles.files.quota_mb)."""
    return settings.STRATA_FILES["quota_mb"] * MiB
