"""python manage.py run_worker [--queue Q]... : the Temporal workflows and activities."""

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError

from apps.core.worker import build_registry, run_workers


class Command(BaseCommand):
    help = "Run the Temporal worker for every task queue, or for the ones named with --queue."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="QUEUE",
            help="a task queue to serve (repeat for several); default: all",
        )
        parser.add_argument("--list", action="store_true", help="list the queues and exit")

    def handle(self, *args, queues=None, list=False, **options):
        registry = build_registry()
        if list:
            for name, reg in registry.queues.items():
                self.stdout.write(
                    f"{name}: {len(reg.workflows)} workflow(s), {len(reg.activities)} activit(ies)"
                )
            return
        unknown = [q for q in queues or [] if q not in registry.queues]
        if unknown:
            raise CommandError(
                f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(registry.queues)}"
            )

        async def main():
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_workers(queues, stop=stop)

        asyncio.run(main())
