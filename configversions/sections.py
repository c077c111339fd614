"""What a configuration snapshot is made of.

Apps that own part of the configuration register a section at start-up (in their AppConfig.ready):
how to export it from the database, how to load it back, and its default. This app never imports
them; they import it, so dependencies keep pointing one way.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfigSection:
    key: str
    export: Callable[[], Any]  # database -> JSON-able content, canonical and ordered
    load: Callable[[Any], None]  # replace the database rows with this content (in a transaction)
    default: Callable[[], Any]  # the content of a fresh installation
    validate: Callable[[Any], Any]  # content from a file or a client -> canonical content, or raise
    mask: Callable[[Any], Any]  # content -> the same with every secret masked, for display


_sections: dict[str, ConfigSection] = {}


def register_section(section: ConfigSection) -> None:
    _sections[section.key] = section


def sections() -> list[ConfigSection]:
    return [_sections[key] for key in sorted(_sections)]
