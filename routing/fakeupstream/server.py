"""Command-line front of the simulated backend, shared by `manage.py fakeupstream` and `-m`."""

import argparse
from collections.abc import Sequence

import uvicorn

from .app import Behaviour, FakeUpstream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait before each answer")
    parser.add_argument("--chunks", type=int, default=8, help="chunks of a streamed answer")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="wait between chunks")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests that fail")
    parser.add_argument(
        "--error-status", type=int, default=500, help="status of a simulated failure"
    )
    parser.add_argument(
        "--models", default="fake-chat", help="comma-separated names GET /v1/models lists"
    )


def behaviour_from(options: argparse.Namespace | dict) -> Behaviour:
    values = vars(options) if isinstance(options, argparse.Namespace) else options
    return Behaviour(
        latency_ms=values["latency_ms"],
        chunks=values["chunks"],
        chunk_delay_ms=values["chunk_delay_ms"],
        error_rate=values["error_rate"],
        error_status=values["error_status"],
        models=tuple(m for m in values["models"].split(",") if m),
    )


def serve(host: str, port: int, behaviour: Behaviour) -> None:
    uvicorn.run(
        FakeUpstream(behaviour),
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
        # A stopped backend stops: answers still waiting on a simulated latency are abandoned.
        timeout_graceful_shutdown=1,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fakeupstream", description=__doc__)
    add_arguments(parser)
    options = parser.parse_args(argv)
    serve(options.host, options.port, behaviour_from(options))
