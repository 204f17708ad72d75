import re

from django.conf import settings
from django.db import models
from django.urls import reverse

_NOT_DIALABLE = re.compile(r"[^0-9+]")


def tel_uri(number: str) -> str:
    """A ``tel:`` URI for a stored phone/fax number (keeps digits and '+'), or "" if nothing dialable."""
    digits = _NOT_DIALABLE.sub("", number or "")
    return f"tel:{digits}" if digits.strip("+") else ""


class Profile(models.Model):
    """Contact details that Django's User lacks. Name and email stay on the User."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    phone = models.CharField(max_length=40, blank=True)
    fax = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=120, blank=True)
    department = models.CharField(max_length=120, blank=True, db_index=True)

    class Meta:
        verbose_name = "profile"
        verbose_name_plural = "profiles"

    def __str__(self) -> str:
        return f"Profile of {self.user.get_username()}"

    def get_absolute_url(self) -> str:
        return reverse("people:person", args=[self.user.get_username()])

    @property
    def phone_uri(self) -> str:
        return tel_uri(self.phone)
