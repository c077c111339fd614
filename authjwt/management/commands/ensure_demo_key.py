"""`manage.py ensure_demo_key`: an API key for the first `curl` of the embedded default, and only then."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from authjwt.keys import display_prefix
from authjwt.models import ApiKey
from authjwt.services import api_key_create


class Command(BaseCommand):
    help = "Create and print a demo API key for /v1 when no API key exists (embedded mode only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError(
                "ensure_demo_key is for the embedded default; create keys at /api/auth/api-keys."
            )
        existing = ApiKey.objects.filter(revoked_at__isnull=True).order_by("created_at").first()
        if existing is not None:
            self.stdout.write(
                f"API key {display_prefix(existing.prefix)} exists ('{existing.name}'); "
                "create more at /api/auth/api-keys."
            )
            return
        _, raw_key = api_key_create(name="demo", actor=None)
        self.stdout.write(self.style.SUCCESS("Created demo API key for /v1 (shown once):"))
        self.stdout.write(f"  {raw_key}")
        self.stdout.write(
            f'  curl -H "Authorization: Bearer {raw_key}" http://{settings.BIND_HOST}:{settings.BIND_PORT}/v1/models'
        )
