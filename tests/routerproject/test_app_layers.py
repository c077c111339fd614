"""The apps depend one way (docs/architecture.md, "Layers"): every import of every module of the
project's packages, at the top, under TYPE_CHECKING or inside a function, goes to its own layer or
one below. Read from the source with `ast`, so an import nothing executes counts as much as one
that runs."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

# Bottom first: each layer may import the layers before it, never one after it.
LAYERS = ("routerproject", "configversions", "monitoring", "authjwt", "routing", "dashboard")
# The kernel's wiring: the modules that put the apps together, above every app. Nothing imports them.
WIRING = frozenset({"routerproject.urls", "routerproject.asgi", "routerproject.wsgi"})
TOP = len(LAYERS)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    """The layer of a first-party module; None for anything else (Django, the standard library…)."""
    if module in WIRING or any(module.startswith(f"{w}.") for w in WIRING):
        return TOP
    package = module.split(".", 1)[0]
    return LAYERS.index(package) if package in LAYERS else None


def imported(module: str, is_package: bool, tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in the tree, relative ones resolved; `from a import b` is
    `a.b`, which for a name that is not a module still lies in the package of `a`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    own = layer(module)
    assert own is not None, module
    refused = []
    for line, target in imported(module, is_package, ast.parse(source)):
        theirs = layer(target)
        if theirs is not None and theirs > own:
            allowed = ", ".join(LAYERS[:own]) or "no other package"
            refused.append(
                f"{module} (line {line}) imports {target}: {module.split('.')[0]} "
                f"may import only {allowed}"
            )
    return refused


def project_modules() -> list[Path]:
    return sorted(
        path
        for package in LAYERS
        for path in (ROOT / package).rglob("*.py")
        if not {"migrations", "tests"} & set(path.relative_to(ROOT).parts)
    )


def test_every_import_goes_down_the_layers():
    refused = []
    for path in project_modules():
        module = module_name(path)
        refused += violations(module, path.read_text(), is_package=path.name == "__init__.py")
    assert not refused, "\n".join(refused)


def test_every_app_of_the_project_has_its_layer():
    first_party = {app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()}
    assert first_party == set(LAYERS)


@pytest.mark.parametrize(
    "source",
    [
        "from routing.live_config import get_live_config",
        "import routing.neural.router",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from routing import models",
        "def f():\n    from authjwt.keys import cache_size\n    return cache_size()",
        "from routerproject import urls",
    ],
)
def test_an_import_against_the_layers_is_named(source):
    (refused,) = violations("monitoring.example", source)
    assert refused.startswith("monitoring.example (line ")
    assert "may import only routerproject, configversions" in refused


def test_relative_imports_resolve_to_their_package():
    assert violations("monitoring.api.views", "from ..caches import cache_stats") == []
    assert violations("routerproject", "from .celery import app", is_package=True) == []
    assert violations("routerproject.urls", "from routing.dataplane.asgi import x") == []
