"""`manage.py ensure_admin`: a first administrator on a fresh installation, and only then."""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from routerproject.settings.env import env_str


class Command(BaseCommand):
    help = "Create the first superuser if none exists (password from DJANGO_SUPERUSER_PASSWORD)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=env_str("DJANGO_SUPERUSER_USERNAME", "admin"))

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "An administrator exists: sign in at /django-admin/, or get a JWT with "
                "POST /api/auth/jwt/login {username, password}."
            )
            return
        password = env_str("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        if generated:
            if settings.SETTINGS_MODULE.endswith(".production"):
                raise CommandError(
                    "No administrator exists: set DJANGO_SUPERUSER_PASSWORD or run createsuperuser."
                )
            password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created administrator {username!r}."))
        if generated:
            self.stdout.write(
                f"  Sign in at /django-admin/ as {username} with password: {password}\n"
                f"  (shown once; change it with `manage.py changepassword {username}`)\n"
                f'  API: POST /api/auth/jwt/login with {{"username": "{username}", "password": …}}'
            )
