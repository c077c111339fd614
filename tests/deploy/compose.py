"""Which Compose implementation validates docker/compose.yml: the `docker compose` plugin when it
is there, else Debian's `docker-compose` (v1). Neither needs a Docker engine for `config`."""

import shutil
import subprocess


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        plugin = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if plugin.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def compose_problem() -> str | None:
    """None when a Compose implementation is installed, else why not."""
    if compose_command() is None:
        return (
            "neither the `docker compose` plugin nor `docker-compose` is installed "
            "(apt-get install docker-compose)"
        )
    return None
