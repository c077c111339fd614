from django.apps import AppConfig


class AuthjwtConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authjwt"
    verbose_name = "Authentication"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save, pre_save

        from monitoring.caches import Cache, register_cache
        from routerproject.state import announce_generations

        from .keys import GENERATION_KEY, MAX_CACHE_ENTRIES, cache_size, invalidate_cache
        from .signals import end_sessions_on_credential_change, note_credential_change

        user_model = get_user_model()
        pre_save.connect(note_credential_change, sender=user_model)
        post_save.connect(end_sessions_on_credential_change, sender=user_model)
        announce_generations(GENERATION_KEY)
        # API keys of /v1 clients, hit when a key was served without the database.
        register_cache(
            Cache(
                "apiKeys",
                position=2,
                size=cache_size,
                clear=invalidate_cache,
                capacity=MAX_CACHE_ENTRIES,
            )
        )
