from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "strata.ops"
    label = "ops"
    verbose_name = "Operations"
