"""The Postgres mirror of instances, written from the engine side.

Three writers, one rule — a row never moves backwards:
- `apply_instance_change`: the durable reports of the interpreter (a local activity when an
  instance starts or stops waiting, and when it ends). A missing row is an error the activity
  retries, never a silent return: the workflow starts only after its row is committed, so a
  missing row is a row not visible *yet*.
- `apply_live_updates`: batched best-effort progress (current state, pending actions, new
  timeline entries) published by running workflows (`engine.live`).
- the reconciler (`services.reconcile`), which repairs whatever the first two lost.
Each report carries the run's timeline counter (`seq`); the row keeps the highest applied
(`engine_seq`) so a late or repeated update is recognised and ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.masking import Masker, secret_strings
from apps.workflows.engine.contracts import InstanceChanged, InstanceNote, workflow_id_for
from apps.workflows.models import (
    InstanceEvent,
    InstanceStatus,
    WorkflowDefinition,
    WorkflowInstance,
)

CLOSED = set(InstanceStatus.closed_values())
OPEN = InstanceStatus.open_values()
# Ended by a person: the engine's own later report of the end must not relabel it.
STOPPED_BY_OPERATOR = {InstanceStatus.CANCELLED, InstanceStatus.TERMINATED}

log = logging.getLogger("xflow.mirror")


class InstanceNotVisible(Exception):
    """The row of a reporting workflow is not visible (yet): the activity retries."""


# definition id -> the $SECRETS names it declares (published definitions never change).
_secret_names: dict[int, tuple[str, ...]] = {}


def masker_for(definition_id: int) -> Masker | None:
    """Masks the definition's secret values in what the mirror stores (None: it has none).

    Instance data is masked when shown, too; masking it when written as well keeps the
    values out of the database (dumps, replicas) and masked even after a secret changes.
    """
    from apps.workflows.services.secrets import secret_names, secret_values

    names = _secret_names.get(definition_id)
    if names is None:
        document = (
            WorkflowDefinition.objects.filter(pk=definition_id)
            .values_list("document", flat=True)
            .first()
        )
        names = _secret_names[definition_id] = tuple(secret_names(document or {}))
    if not names:
        return None
    try:
        values = secret_values(list(names))
    except Exception:  # noqa: BLE001 - undecryptable now: the read side masks what it can
        return None
    return Masker(secret_strings(values.values())) if values else None


def _masked_entries(entries: list[dict[str, Any]], masker: Masker | None) -> list[dict[str, Any]]:
    return [masker(e) for e in entries] if masker else entries


def _event_time(entry: dict[str, Any]):
    value = entry.get("time")
    return parse_datetime(value) if isinstance(value, str) else None


def timeline_rows(instance_id, entries: list[dict[str, Any]]) -> list[InstanceEvent]:
    """InstanceEvent rows for engine timeline entries (the service wrote "started" itself)."""
    rows = []
    for entry in entries:
        if entry.get("kind") == "started":
            continue
        seq = entry.get("seq")
        details = dict(entry.get("details") or {})
        details.update(
            {k: v for k, v in entry.items() if k not in {"kind", "state", "time", "seq", "details"}}
        )
        rows.append(
            InstanceEvent(
                instance_id=instance_id,
                event_type=str(entry.get("kind", "progress"))[:64],
                state=str(entry.get("state") or "")[:200],
                occurred_at=_event_time(entry),
                seq=seq if isinstance(seq, int) else None,
                details=details,
            )
        )
    return rows


def _max_seq(change_seq: int, entries: list[dict[str, Any]]) -> int:
    seqs = [e["seq"] for e in entries if isinstance(e.get("seq"), int)]
    return max([change_seq, *seqs])


@transaction.atomic
def apply_instance_change(change: InstanceChanged, *, strict: bool = True) -> None:
    """Update the row and append new timeline entries; safe to apply twice.

    `strict`: the row must exist (a platform instance); otherwise a missing row means an
    ad-hoc run without one, and the report is dropped.
    """
    instance = WorkflowInstance.objects.select_for_update().filter(pk=change.instance_id).first()
    if instance is None:
        if not strict:
            return
        raise InstanceNotVisible(f"instance {change.instance_id} has no row (yet)")
    masker = masker_for(instance.definition_id)
    # Entries a live update already stored are skipped by the (instance, seq) constraint.
    InstanceEvent.objects.bulk_create(
        timeline_rows(instance.pk, _masked_entries(change.timeline, masker)),
        ignore_conflicts=True,
    )
    if _apply_to_row(instance, change, masker):
        from apps.workflows import hooks

        hooks.instance_closed(instance, user=None)


def _apply_to_row(instance: WorkflowInstance, change: InstanceChanged, masker) -> bool:
    """Write a report's fields on its locked row; True when this closed the instance."""
    seq = _max_seq(change.seq, change.timeline)
    instance.engine_seq = max(instance.engine_seq, seq)
    update = ["engine_seq", "updated_at"]
    if instance.status in STOPPED_BY_OPERATOR or (
        instance.status in CLOSED and change.status not in CLOSED
    ):
        instance.save(update_fields=update)
        return False
    instance.status = change.status
    instance.current_states = change.current_states
    instance.pending_actions = change.pending_actions
    if change.visited_states:
        instance.visited_states = change.visited_states
    update += ["status", "current_states", "pending_actions", "visited_states"]
    if change.status in CLOSED:
        instance.output = masker(change.output) if masker else change.output
        instance.error = masker(change.error) if masker else change.error
        instance.ended_at = timezone.now()
        instance.pending_actions = []
        update += ["output", "error", "ended_at"]
    instance.save(update_fields=update)
    return change.status in CLOSED


def _final_change(final: dict[str, Any]) -> tuple[InstanceChanged, bool]:
    instance_id = str(final.get("instance_id"))
    change = InstanceChanged(
        instance_id=instance_id,
        status=str(final.get("status")),
        current_states=list(final.get("current_states") or []),
        output=final.get("output"),
        error=final.get("error"),
        timeline=list(final.get("timeline") or []),
        visited_states=list(final.get("visited_states") or []),
        seq=int(final.get("seq") or 0),
    )
    return change, final.get("workflow_id") == workflow_id_for(instance_id)


def apply_final_reports(finals: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """Apply instance ends published by workflows (`Run.finish`): (applied, not written).

    Each is applied as `apply_instance_change` would (operator stops win, output masked,
    the instance's open tasks cancelled), all in one transaction: rows locked in one query
    (in id order, as every writer locks them), timeline entries in one insert. A platform
    instance whose row is not visible yet is handed back to be tried again; if the batch
    fails as a whole, each end is tried on its own so one bad row cannot hold up the rest.
    """
    finals = sorted(finals, key=lambda f: str(f.get("instance_id")))
    changes = [(final, *_final_change(final)) for final in finals]
    failed: list[dict[str, Any]] = []
    try:
        with transaction.atomic():
            locked = {
                str(row.pk): row
                for row in WorkflowInstance.objects.select_for_update()
                .filter(pk__in=[change.instance_id for _, change, _ in changes])
                .order_by("pk")
                .only("pk", "status", "engine_seq", "definition_id")
            }
            entries, todo = [], []
            for final, change, strict in changes:
                row = locked.get(change.instance_id)
                if row is None:
                    if strict:  # not visible yet: tried again (an ad-hoc run has no row)
                        failed.append(final)
                    continue
                masker = masker_for(row.definition_id)
                entries.extend(timeline_rows(row.pk, _masked_entries(change.timeline, masker)))
                todo.append((row, change, masker))
            InstanceEvent.objects.bulk_create(entries, ignore_conflicts=True)
            closed = [row for row, change, masker in todo if _apply_to_row(row, change, masker)]
            from apps.workflows import hooks

            hooks.instances_closed(closed, user=None)
    except (OperationalError, InterfaceError) as exc:
        # The database is unreachable: all of them are tried again later.
        log.warning("ends of %d instances not written yet: %s", len(finals), exc)
        return 0, finals
    except Exception as exc:  # noqa: BLE001 - one bad end must not hold up the others
        log.warning(
            "a batch of %d instance ends failed (%s); applying one by one", len(finals), exc
        )
        return _apply_finals_one_by_one(changes)
    return len(finals) - len(failed), failed


def _apply_finals_one_by_one(changes) -> tuple[int, list[dict[str, Any]]]:
    applied, failed = 0, []
    for n, (final, change, strict) in enumerate(changes):
        try:
            apply_instance_change(change, strict=strict)
            applied += 1
        except (OperationalError, InterfaceError):
            failed.extend(final for final, _, _ in changes[n:])
            break
        except Exception as exc:  # noqa: BLE001 - retried by the writer, then the reconciler
            log.info("end of instance %s not written yet: %s", change.instance_id, exc)
            failed.append(final)
    return applied, failed


def note_instance(note: InstanceNote, *, strict: bool = True) -> None:
    """A timeline entry from outside the instance's run (`strict`: its row must exist)."""
    if not WorkflowInstance.objects.filter(pk=note.instance_id).exists():
        if not strict:
            return
        raise InstanceNotVisible(f"instance {note.instance_id} has no row (yet)")
    InstanceEvent.objects.create(
        instance_id=note.instance_id,
        event_type=note.kind[:64],
        state=(note.state or "")[:200],
        occurred_at=timezone.now(),
        details=note.details,
    )


def coalesce(updates: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest update per instance, with every timeline entry of all of them."""
    merged: dict[str, dict[str, Any]] = {}
    for update in updates:
        key = str(update.get("instance_id"))
        previous = merged.get(key)
        entries = (previous["timeline"] if previous else []) + list(update.get("timeline") or [])
        if previous is None or update.get("seq", 0) >= previous.get("seq", 0):
            merged[key] = {**update, "timeline": entries}
        else:
            previous["timeline"] = entries
    return merged


def apply_live_updates(
    updates: list[dict[str, Any]], *, stored: dict[str, int] | None = None
) -> int:
    """Write a batch of live progress; updates older than the row's state are ignored.

    `stored`, when given, is told the newest timeline entry now stored per instance (the
    writer then leaves those out of the instance's end).

    Lock order: the instance rows first (sorted), then their timeline entries — the same
    order as `apply_instance_change`, so a durable report and a flush never deadlock.
    """
    merged = coalesce(updates)
    if not merged:
        return 0
    now = timezone.now()
    applied = 0
    with transaction.atomic():
        locked = list(
            WorkflowInstance.objects.select_for_update()
            .filter(pk__in=list(merged))
            .order_by("pk")
            .only("pk", "status", "engine_seq", "definition_id")
        )
        rows = []
        for instance in locked:
            masker = masker_for(instance.definition_id)
            entries = _masked_entries(merged[str(instance.pk)]["timeline"], masker)
            rows.extend(timeline_rows(instance.pk, entries))
        InstanceEvent.objects.bulk_create(rows, ignore_conflicts=True)
        if stored is not None:
            transaction.on_commit(
                lambda: stored.update(
                    {
                        str(row.instance_id): max(stored.get(str(row.instance_id), 0), row.seq)
                        for row in rows
                        if row.seq is not None
                    }
                )
            )
        for instance in locked:
            update = merged[str(instance.pk)]
            seq = _max_seq(int(update.get("seq") or 0), update["timeline"])
            if instance.status not in OPEN or seq <= instance.engine_seq:
                continue  # a durable report (or a newer update) got there first
            fields: dict[str, Any] = {
                "current_states": update.get("current_states") or [],
                "visited_states": update.get("visited_states") or [],
                "pending_actions": update.get("pending_actions") or [],
                "engine_seq": seq,
                "updated_at": now,
            }
            if update.get("status") in (InstanceStatus.RUNNING, InstanceStatus.WAITING):
                fields["status"] = update["status"]
            applied += WorkflowInstance.objects.filter(pk=instance.pk).update(**fields)
    return applied
