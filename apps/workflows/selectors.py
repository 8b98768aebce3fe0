"""Read queries and presentation helpers of the workflows app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from apps.workflows.models import InstanceEvent, WorkflowDefinition, WorkflowInstance


def definition_keys(
    rows: QuerySet[WorkflowDefinition] | None = None, *, search: str = "", status: str = ""
) -> list[dict]:
    """One entry per definition key with its versions (newest first), from `rows` (all)."""
    rows = (
        (WorkflowDefinition.objects.all() if rows is None else rows)
        .only("key", "version", "name", "status", "is_latest", "created_at", "published_at")
        .order_by("key", "-created_at")
    )
    if search:
        rows = rows.filter(Q(key__icontains=search) | Q(name__icontains=search))
    if status:
        rows = rows.filter(status=status)
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(
            row.key, {"key": row.key, "name": row.name, "latest_version": None, "versions": []}
        )
        entry["versions"].append(
            {"version": row.version, "status": row.status, "is_latest": row.is_latest}
        )
        if row.is_latest:
            entry["latest_version"] = row.version
            entry["name"] = row.name or entry["name"]
    return list(out.values())


def instance_counts_by_status(key: str) -> dict[str, int]:
    rows = (
        WorkflowInstance.objects.filter(definition_key=key).values("status").annotate(n=Count("id"))
    )
    return {r["status"]: r["n"] for r in rows}


_TEXT = {
    "started": "Instance started",
    "state": "Entered state {state}",
    "state_entered": "Entered state {state}",
    "state_left": "Left state {state}",
    "action": "Action {action} returned {result}",
    "action_failed": "Action {action} failed with {error}: {message}",
    "retry": "Action {action} failed with {error}; retrying in {delay} s (attempt {attempt})",
    "branches": "Parallel branches of {state} finished",
    "iterations": "Iterating {state} over {count} item(s)",
    "events": "Event(s) received in {state}",
    "event_received": "Received event {type}",
    "event_timeout": "No event arrived in time in {state}",
    "produced": "Produced event {event}",
    "waiting": "Waiting in {state}",
    "subflow": "Started subflow {workflow}",
    "task_created": "User task created in {state}",
    "task_timer": "Task timer {timer} fired in {state}",
    "task_timed_out": "User task timed out in {state}",
    "task_deleted": "User task deleted in {state}",
    "error": "Error in {state}: {message}",
    "compensating": "Compensating {state}",
    "continued": "Continued as a new run at {state}",
    "continued_as": "Continued as {workflow}",
    "kept_active": "Kept active after {state}",
    "completed": "Instance completed",
    "failed": "Instance failed: {message}",
    "cancelled": "Instance cancelled",
    "terminated": "Instance terminated",
    "timed_out": "Instance timed out",
    "retried": "Retried from state {state}",
    "restarted": "Restarted as a new instance",
    "async_call": "Action {action} called {function} without waiting (invoke: async)",
    "async_call_done": "The async call of {function} (action {action}) completed",
    "async_call_failed": "The async call of {function} (action {action}) failed: {message}",
    "reconciled": "Reconciled with Temporal: {from} → {to} ({reason})",
    "start_failed": "The instance could not be started: {message}",
}


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def describe_timeline_entry(entry: InstanceEvent) -> str:
    """A sentence a person reads for one timeline entry."""
    template = _TEXT.get(entry.event_type)
    values = _Default({**(entry.details or {}), "state": entry.state or "?"})
    if template is None:
        text = entry.event_type.replace("_", " ").capitalize()
        return f"{text} ({entry.state})" if entry.state else text
    if entry.actor_id and entry.event_type in {
        "cancelled",
        "terminated",
        "retried",
        "restarted",
        "started",
    }:
        template += " by " + entry.actor.get_username()
    return template.format_map(values)
