from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "strata.messaging"
    label = "messaging"
    verbose_name = "Messaging"
    default_auto_field = "django.db.models.BigAutoField"
