from django.apps import AppConfig


class RoutingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from configversions.sections import register_section

        from .config_section import ROUTER_SECTION, SERVICES_SECTION

        register_section(SERVICES_SECTION)
        register_section(ROUTER_SECTION)
