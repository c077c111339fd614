from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from configversions.sections import register_section

        from . import tracing
        from .settings_section import MONITORING_SECTION

        register_section(MONITORING_SECTION)
        # Before any handler loads its middleware: the Django instrumentation inserts its own.
        tracing.configure()
