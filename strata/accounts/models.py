"""Service accounts ("computers") and API tokens. People are Django users (mirrored from the directory
when the domain role is on); groups are Django groups."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


class ServiceAccount(models.Model):
    """A program that uses the JSON API: an entry under ou=services (domain on) or a local row (off)."""

    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    groups = models.ManyToManyField(Group, blank=True, related_name="service_accounts")
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token for the JSON API held by one person or one service; only its digest is stored."""

    prefix = models.CharField(max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    service = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, service__isnull=True) | Q(user__isnull=True, service__isnull=False)
                ),
                name="api_token_one_holder",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.holder_name})"

    @property
    def holder_name(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return f"service {self.service.name}" if self.service is not None else "nobody"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
