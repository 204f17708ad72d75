"""WsgiDAV's property manager in the database: dead properties (PROPPATCH) seen by every app server."""

from __future__ import annotations

from django.db import transaction

from .models import DeadProperty


def _below(url: str) -> str:
    return url.rstrip("/") + "/"


class DatabasePropertyManager:
    """The interface of wsgidav.prop_man.property_manager.PropertyManager over dav.DeadProperty."""

    def __repr__(self) -> str:
        return "DatabasePropertyManager"

    def get_properties(self, norm_url: str, environ=None) -> list[str]:
        return list(DeadProperty.objects.filter(path=norm_url).values_list("name", flat=True))

    def get_property(self, norm_url: str, name: str, environ=None) -> str | None:
        return DeadProperty.objects.filter(path=norm_url, name=name).values_list("value", flat=True).first()

    def write_property(self, norm_url: str, name: str, property_value, dry_run: bool = False, environ=None):
        if dry_run:
            return
        value = property_value.decode() if isinstance(property_value, bytes) else str(property_value)
        DeadProperty.objects.update_or_create(path=norm_url, name=name, defaults={"value": value})

    def remove_property(self, norm_url: str, name: str, dry_run: bool = False, environ=None):
        if not dry_run:
            DeadProperty.objects.filter(path=norm_url, name=name).delete()

    def remove_properties(self, norm_url: str, environ=None):
        DeadProperty.objects.filter(path=norm_url).delete()

    def copy_properties(self, src_url: str, dest_url: str, environ=None):
        with transaction.atomic():
            DeadProperty.objects.filter(path=dest_url).delete()
            DeadProperty.objects.bulk_create(
                DeadProperty(path=dest_url, name=p.name, value=p.value)
                for p in DeadProperty.objects.filter(path=src_url)
            )

    def move_properties(self, src_url: str, dest_url: str, with_children: bool, environ=None):
        """Carry the properties of SRC_URL (and, WITH_CHILDREN, of everything below it) to DEST_URL."""
        with transaction.atomic():
            DeadProperty.objects.filter(path=dest_url).delete()
            DeadProperty.objects.filter(path=src_url).update(path=dest_url)
            if with_children:
                src, dest = _below(src_url), _below(dest_url)
                DeadProperty.objects.filter(path__startswith=dest).delete()
                for p in DeadProperty.objects.filter(path__startswith=src):
                    p.path = dest + p.path[len(src) :]
                    p.save(update_fields=["path"])
