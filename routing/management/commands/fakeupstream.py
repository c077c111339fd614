"""`manage.py fakeupstream --port N`: the simulated model backend (a plain ASGI app on uvicorn)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from routing.fakeupstream.server import add_arguments, behaviour_from, serve


class Command(BaseCommand):
    help = (
        "Serve a simulated OpenAI/Ollama backend with configurable latency, streaming and errors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        self.stdout.write(f"Simulated upstream listening on http://{host}:{port}/")
        serve(host, port, behaviour_from(options))
