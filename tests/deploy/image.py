"""The production image without Docker: docker/Dockerfile's final stage replayed into a directory.

No Docker engine runs here, so the tests lay out what the image would hold and run that: every
`COPY` from the build context (the repository), the `ENV`, and the `RUN` steps that come after the
code is copied (collectstatic), with the image's absolute paths mapped into a temporary directory:
/app (the code), /var/lib/router (the writable directory) and /opt/venv (the dependencies: this
virtualenv). A file the code needs that the Dockerfile forgets to copy fails here as in the image.
What the replay cannot do (system packages, the user, the builder stage) it leaves out.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"
# A name not followed by a path character, so /app maps and /application would not.
_PATH = r"(?<![\w/.-]){}(?=/|$|[^\w.-])"


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Image:
    root: Path  # the image's "/"
    env: dict[str, str]  # ENV, mapped, over a minimal base environment
    workdir: Path
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    user: str
    copied: list[Path] = field(default_factory=list)

    def command(self, *args: str) -> list[str]:
        """What `docker run image ARGS` runs (the entrypoint with ARGS, or with CMD)."""
        return [*self.entrypoint, *(args or self.cmd)]

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.workdir,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    result = []
    for text in logical:
        keyword, _, arguments = text.partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
    return result


def final_stage(path: Path = DOCKERFILE) -> list[Instruction]:
    steps = instructions(path)
    last_from = max(i for i, step in enumerate(steps) if step.keyword == "FROM")
    return steps[last_from + 1 :]


def exec_form(arguments: str) -> list[str]:
    """`["a", "b"]` (exec form) as a list; shell form as `sh -c`."""
    if arguments.startswith("["):
        return list(json.loads(arguments))
    return ["/bin/sh", "-c", arguments]


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def build(root: Path) -> Image:
    """Replay the final stage into `root` (an empty directory) and return the image."""
    mapping = {
        "/opt/venv": sys.prefix,
        "/app": str(root / "app"),
        "/var/lib/router": str(root / "var"),
    }

    def mapped(text: str) -> str:
        for source, target in mapping.items():
            text = re.sub(_PATH.format(re.escape(source)), target, text)
        return text

    for directory in ("var", "tmp"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(root / "var"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(root / "tmp"),
    }
    workdir = root
    image = Image(root, env, root, [], [], [], "root")
    code_copied = False
    for step in final_stage():
        if step.keyword == "ENV":
            for pair in shlex.split(step.arguments):
                key, _, value = pair.partition("=")
                env[key] = _expand(mapped(value), env)
        elif step.keyword == "WORKDIR":
            workdir = Path(mapped(step.arguments))
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.keyword == "COPY" and "--from=" not in step.arguments:
            *sources, destination = shlex.split(step.arguments)
            target = Path(mapped(destination))
            if not target.is_absolute():
                target = workdir / target
            for source in sources:
                _copy(ROOT / source, target, into=destination.endswith("/") or len(sources) > 1)
                image.copied.append(ROOT / source)
            code_copied = True
        elif step.keyword == "RUN" and code_copied:
            command = [mapped(part) for part in exec_form(step.arguments)]
            done = subprocess.run(
                command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"RUN {step.arguments} failed:\n{done.stderr[-3000:]}"
        elif step.keyword == "USER":
            image.user = step.arguments
        elif step.keyword == "ENTRYPOINT":
            image.entrypoint = [mapped(part) for part in exec_form(step.arguments)]
        elif step.keyword == "CMD":
            image.cmd = exec_form(step.arguments)
        elif step.keyword == "HEALTHCHECK":
            command = step.arguments.split(" CMD ", 1)[1].strip()
            image.healthcheck = [mapped(part) for part in exec_form(command)]
    image.workdir = workdir
    return image


def _copy(source: Path, target: Path, *, into: bool) -> None:
    """Docker's rules: a directory's contents go into the target; a file goes into it when the
    target ends with / (or several sources are given), else becomes it."""
    if source.is_dir():
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
        return
    destination = target / source.name if into else target
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
