"""`manage.py ensure_demo_config --upstream URL`: on a fresh installation, instances for every
service type on the simulated backend, so that the first `curl` of `make run` gets an answer."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from configversions.models import ConfigVersion
from configversions.selectors import live_snapshot
from configversions.services import configuration_import
from routing.demo import demo_services
from routing.models import ServiceInstance


class Command(BaseCommand):
    help = "Point every service type at the simulated backend, if nothing is configured yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8081")

    def handle(self, *args: Any, upstream: str, **options: Any) -> None:
        if settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError("ensure_demo_config is for the embedded default only.")
        if ServiceInstance.objects.exists() or ConfigVersion.objects.count() > 1:
            self.stdout.write("A configuration exists: the demo configuration is not applied.")
            return
        content = {**live_snapshot(), "services": demo_services(upstream.rstrip("/"))}
        change = configuration_import(content=content, actor=None, operation="demo configuration")
        number = change.version.number if change.version else None
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo configuration (version {number}): every service on {upstream}."
            )
        )
        self.stdout.write(
            "  Models: demo-chat, demo-embed, demo-rerank, demo-tts, demo-whisper, demo-image, demo-image-edit;"
        )
        self.stdout.write("  'auto' on /v1/chat/completions is routed by the neural router.")
