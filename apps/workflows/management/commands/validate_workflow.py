"""`manage.py validate_workflow FILE...`: check definition files, report every issue."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.workflows.dsl.loader import MAX_DEFINITION_BYTES
from apps.workflows.dsl.validation import ERROR, ValidationIssue, validate_text


class Command(BaseCommand):
    help = "Validate Serverless Workflow 0.8 definition files (JSON or YAML) and report issues."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "files", nargs="+", metavar="FILE", help="definition files ('-' = stdin)"
        )
        parser.add_argument(
            "--strict", action="store_true", help="count warnings as errors for the exit code"
        )

    def handle(self, *args: object, files: list[str], strict: bool, **options: object) -> None:
        errors = warnings = failed_files = 0
        for name in files:
            issues = _check_file(name)
            for found in issues:
                self.stdout.write(_line(name, found))
            file_errors = sum(1 for i in issues if i.severity == ERROR)
            file_warnings = len(issues) - file_errors
            errors += file_errors
            warnings += file_warnings
            if file_errors or (strict and file_warnings):
                failed_files += 1
            elif not issues:
                self.stdout.write(f"{name}: OK")
        summary = (
            f"{len(files)} file{'s' if len(files) != 1 else ''} checked: "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}"
        )
        if failed_files:
            raise CommandError(f"{summary} ({failed_files} invalid)", returncode=1)
        self.stdout.write(summary)


def _check_file(name: str) -> list[ValidationIssue]:
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_DEFINITION_BYTES + 1)
        else:
            with Path(name).open("rb") as handle:
                # Reading one byte past the limit is enough for the loader to refuse it.
                data = handle.read(MAX_DEFINITION_BYTES + 1)
    except OSError as exc:
        return [ValidationIssue("", "unreadable", f"cannot read the file: {exc.strerror or exc}")]
    return validate_text(data, filename=name)[1]


def _line(name: str, found: ValidationIssue) -> str:
    where = found.path or "(top level)"
    prefix = "" if found.severity == ERROR else f"{found.severity}: "
    return f"{name}: {where}: {prefix}{found.message} [{found.code}]"
