"""A service account acting with one of its tokens, where the code expects a person (the network drive).

It is logged in and belongs to its groups, so the files app's access rules give it what its groups see:
their spaces and what is shared with them. It owns nothing (no personal space, no share to it alone)
and has no user row: the audit trail records it by name.
"""

from __future__ import annotations

from .models import ServiceAccount


class ServicePrincipal:
    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, service: ServiceAccount):
        self.service = service
        self.username = service.name
        self.is_active = service.is_active
        # strata.files.access reads a person's groups from this cache first.
        self._strata_group_ids = list(service.groups.values_list("id", flat=True))

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return f"service {self.username}"
