"""`manage.py purge_events [--dry-run]`: delete event records past their retention once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Delete inbound events, outbox rows and dead letters past their retention "
        "(XFLOW_*_RETENTION_DAYS); print the rows deleted per table."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
        )
        parser.add_argument(
            "--batch", type=int, default=5000, help="rows per delete transaction (default 5000)"
        )

    def handle(self, *, dry_run: bool, batch: int, **options) -> None:
        from apps.workflows.services.retention import (
            TABLES,
            kept_for,
            purge_event_records,
            purgeable_event_records,
        )

        if batch < 1:
            raise CommandError("--batch must be at least 1")
        counts = purgeable_event_records() if dry_run else purge_event_records(batch=batch)
        verb = "would delete" if dry_run else "deleted"
        for table in TABLES:
            policy = "with their events" if table == "event_deliveries" else kept_for(table)
            self.stdout.write(f"{table}: {verb} {counts[table]} ({policy})")
