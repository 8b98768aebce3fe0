"""`manage.py reconcile_instances`: compare open instance rows with Temporal and repair them."""

from __future__ import annotations

import json
import signal
import threading

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Reconcile open instance rows with Temporal once, or every --every seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--every", type=float, default=0, help="repeat every N seconds (0: one pass)"
        )
        parser.add_argument(
            "--idle",
            type=float,
            default=30,
            help="only check rows not updated for this many seconds (default 30)",
        )

    def handle(self, *, every: float, idle: float, **options) -> None:
        from datetime import timedelta

        from apps.workflows.services.reconcile import reconcile_instances

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while True:
            report = reconcile_instances(idle=timedelta(seconds=idle))
            self.stdout.write(json.dumps(report.as_dict()))
            if every <= 0 or stop.wait(every):
                return
