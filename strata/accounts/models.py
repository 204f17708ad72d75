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


class AttemptCounter(models.Model):
    """One counter of strata.accounts.lockout: failed logins of a (username, address) pair or of an
    address, or password-reset requests of an address or an account. Written by one upsert per event
    (strata.accounts.actions.count_attempts); cleared by `strata users unlock` or the admin."""

    LOGIN_PAIR = "login-pair"
    LOGIN_ADDRESS = "login-address"
    RESET_ADDRESS = "reset-address"
    RESET_ACCOUNT = "reset-account"
    KINDS = [
        (LOGIN_PAIR, "failed logins of a username from an address"),
        (LOGIN_ADDRESS, "failed logins from an address"),
        (RESET_ADDRESS, "password-reset requests from an address"),
        (RESET_ACCOUNT, "password-reset requests for an account"),
    ]

    kind = models.CharField(max_length=16, choices=KINDS)
    subject = models.CharField(max_length=254, blank=True, help_text="username or e-mail address")
    address = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject", "address"], name="accounts_attempt_unique")
        ]
        indexes = [
            models.Index(fields=["address"], name="accounts_at_address_idx"),
            models.Index(fields=["subject"], name="accounts_at_subject_idx"),
        ]
        ordering = ["-last_at"]

    def __str__(self) -> str:
        who = " from ".join(x for x in (self.subject, self.address) if x)
        return f"{self.get_kind_display()}: {who} ({self.count})"
