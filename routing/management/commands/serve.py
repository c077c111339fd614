"""`manage.py serve`: the gateway on uvicorn, with Celery in-process when there is no broker to use,
and, when its state is its own, following the generations other processes announce."""

import atexit
import subprocess
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from monitoring import request_history
from routerproject.state import AnnouncingState, get_state
from routerproject.state.announced import follow_in_background


class Command(BaseCommand):
    help = "Serve the gateway over ASGI (uvicorn); HOST/PORT or TINY_DANCER_BIND_ADDRESS/PORT set the address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.BIND_HOST)
        parser.add_argument("--port", type=int, default=settings.BIND_PORT)
        parser.add_argument(
            "--demo-upstream",
            type=int,
            metavar="PORT",
            help="Also run the simulated backend on this port (the demo of `make run`).",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not run the in-process Celery worker and beat of the embedded default.",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        no_worker: bool,
        demo_upstream: int | None,
        **options: Any,
    ) -> None:
        if demo_upstream:
            # A child of this process: it stops when the gateway stops.
            self._demo = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                [sys.executable, "-m", "routing.fakeupstream", "--port", str(demo_upstream)]
            )
            atexit.register(self._demo.terminate)
            self.stdout.write(f"Simulated backend on http://127.0.0.1:{demo_upstream}/")
        if settings.CELERY_BROKER_URL.startswith("memory://") and not no_worker:
            from routerproject.celery import start_embedded_worker

            start_embedded_worker()
            self.stdout.write("Celery worker and beat running in-process (embedded default).")
        elif not no_worker:
            self.stdout.write(
                "Broker is external: run `celery -A routerproject worker -B` for the scheduled jobs."
            )
        state = get_state()
        if isinstance(state, AnnouncingState):
            follow_in_background(state)
        self.stdout.write(f"Gateway listening on http://{host}:{port}/  (API docs: /api/docs/)")
        uvicorn.run(
            "routerproject.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            # uvicorn's lines go through the LOGGING settings (LOG_FORMAT), not a format of its own.
            log_config=None,
            log_level="info",
            access_log=False,
        )
        # Shut down: the request history this process still holds (atexit would, too).
        request_history.flush()
