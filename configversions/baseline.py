"""Configuration files: a snapshot written as YAML or JSON (`ROUTER_CONFIG_FILE`, export/import)."""

import json
from pathlib import Path
from typing import Any

import yaml

from routerproject.exceptions import InvalidInput


def read_config_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot read configuration file {path}: {exc.strerror}") from None
    try:
        # YAML is a superset of JSON: one parser reads both.
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"Configuration file {path} is not valid YAML or JSON: {exc}") from None


def write_config(content: Any, *, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(content, indent=2, sort_keys=True) + "\n"
    return yaml.safe_dump(content, sort_keys=True, allow_unicode=True)
