from django.apps import AppConfig


class AuthjwtConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authjwt"
    verbose_name = "Authentication"
