from django.apps import AppConfig


class AuthjwtConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authjwt"
    verbose_name = "Authentication"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save, pre_save

        from routerproject.state import announce_generations

        from .keys import GENERATION_KEY
        from .signals import end_sessions_on_credential_change, note_credential_change

        user_model = get_user_model()
        pre_save.connect(note_credential_change, sender=user_model)
        post_save.connect(end_sessions_on_credential_change, sender=user_model)
        announce_generations(GENERATION_KEY)
