"""`manage.py import_config FILE`: replace the configuration with a file's, as a new version."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from configversions.baseline import read_config_file
from configversions.services import configuration_import
from routerproject.exceptions import DomainError


class Command(BaseCommand):
    help = "Import a configuration file (YAML or JSON snapshot) as a new configuration version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        try:
            change = configuration_import(content=read_config_file(file), actor=None)
        except ValidationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(f"Invalid configuration in {file}: {details}") from None
        except DomainError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.errors or {}).items())
            raise CommandError(f"{exc.message}{': ' + details if details else ''}") from None
        if change.version is None:
            self.stdout.write("The configuration already matches the file: no version written.")
        else:
            self.stdout.write(f"Imported {file} as configuration version {change.version.number}.")
