"""Startup checks: published definitions this deployment cannot run are reported early."""

from __future__ import annotations

import os

from django.core.checks import Warning, register
from django.db import DatabaseError

from apps.workflows.engine.contracts import CUSTOM_PREFIXES


def _custom_prefixes(document: dict) -> set[str]:
    prefixes = set()
    for function in document.get("functions") or []:
        if isinstance(function, dict) and function.get("type") == "custom":
            operation = function.get("operation")
            if isinstance(operation, str) and ":" in operation:
                prefixes.add(operation.split(":", 1)[0])
    return prefixes


@register("xflow", deploy=True)
def check_published_definitions(app_configs=None, **kwargs):
    """Unknown custom function prefixes and missing `envs` of published definitions."""
    from apps.workflows.models import WorkflowDefinition

    problems = []
    try:
        rows = list(WorkflowDefinition.objects.published().only("key", "version", "document"))
    except DatabaseError:
        return []  # no database yet (first migrate): nothing published to check
    for row in rows:
        unknown = _custom_prefixes(row.document) - set(CUSTOM_PREFIXES)
        if unknown:
            problems.append(
                Warning(
                    f"{row} uses custom function prefix(es) {', '.join(sorted(unknown))} that no "
                    "worker registers; its calls will fail.",
                    hint=f"Known prefixes: {', '.join(sorted(CUSTOM_PREFIXES))}.",
                    id="xflow.W001",
                )
            )
        missing = [
            n for n in row.document.get("envs") or [] if isinstance(n, str) and n not in os.environ
        ]
        if missing:
            problems.append(
                Warning(
                    f"{row} reads environment variable(s) {', '.join(missing)}, not set here; "
                    "starting it will be refused.",
                    hint="Set them in the environment of the web and worker processes.",
                    id="xflow.W002",
                )
            )
    return problems
