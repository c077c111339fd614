from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def seed_configuration(sender: AppConfig, **kwargs: Any) -> None:
    """After migrate on an empty database: ROUTER_CONFIG_FILE (or the defaults) becomes version 1."""
    from django.conf import settings

    from .baseline import read_config_file
    from .services import configuration_seed

    path = settings.ROUTER_CONFIG_FILE
    configuration_seed(content=read_config_file(path) if path else None)


class ConfigversionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "configversions"
    verbose_name = "Configuration versions"

    def ready(self) -> None:
        post_migrate.connect(seed_configuration, sender=self)
