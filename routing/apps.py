from django.apps import AppConfig


class RoutingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from configversions.sections import register_section
        from monitoring import tracing
        from monitoring.request_history import record_exchange
        from routerproject.state import announce_generations

        from . import observability
        from .dataplane import traces
        from .dataplane.ended import on_exchange_end
        from .neural_runtime import BREAKER_RESET_KEY, RELOAD_KEY
        from .services_section import ROUTER_SECTION, SERVICES_SECTION

        register_section(SERVICES_SECTION)
        register_section(ROUTER_SECTION)
        announce_generations(RELOAD_KEY, BREAKER_RESET_KEY)
        observability.register()
        tracing.when_started(traces.install)  # /v1 spans, once tracing starts
        on_exchange_end(record_exchange)  # the request history: an append on the event loop
