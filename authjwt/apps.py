from django.apps import AppConfig


class AuthjwtConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authjwt"
    verbose_name = "Authentication"

    def ready(self) -> None:
        from routerproject.state import announce_generations

        from .keys import GENERATION_KEY

        announce_generations(GENERATION_KEY)
