"""Startup checks of the tasks app."""

from __future__ import annotations

from django.core.checks import Warning, register
from django.db import DatabaseError

from apps.workflows.dsl.expressions import is_expression


def _literal_groups(document: dict) -> set[str]:
    """Candidate group names a definition's usertask states (and escalations) name literally."""
    names: set[str] = set()
    for state in document.get("states") or []:
        if not isinstance(state, dict) or state.get("type") != "usertask":
            continue
        lists = [state.get("candidateGroups") or []]
        lists += [
            t.get("candidateGroups") or [] for t in state.get("timers") or [] if isinstance(t, dict)
        ]
        for values in lists:
            names.update(v for v in values if isinstance(v, str) and v and not is_expression(v))
    return names


@register("xflow", deploy=True)
def check_candidate_groups(app_configs=None, **kwargs):
    """Groups that published user tasks offer work to must exist, or nobody sees that work."""
    from django.contrib.auth.models import Group

    from apps.workflows.models import WorkflowDefinition

    try:
        rows = list(WorkflowDefinition.objects.published().only("key", "version", "document"))
        known = set(Group.objects.values_list("name", flat=True))
    except DatabaseError:
        return []  # no database yet (first migrate)
    problems = []
    for row in rows:
        missing = sorted(_literal_groups(row.document or {}) - known)
        if missing:
            problems.append(
                Warning(
                    f"{row} offers user tasks to group(s) {', '.join(missing)}, which do not "
                    "exist: nobody will see those tasks in a queue.",
                    hint="Create the groups (admin > Groups) and add their members.",
                    id="xflow.W010",
                )
            )
    return problems
