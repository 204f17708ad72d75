from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "strata.files"
    label = "files"
    default_auto_field = "django.db.models.BigAutoField"
