from django.apps import AppConfig


class DavConfig(AppConfig):
    name = "strata.dav"
    label = "dav"
    default_auto_field = "django.db.models.BigAutoField"
