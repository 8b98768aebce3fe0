"""python manage.py run_bridge : the Kafka event bridge (consume topics, publish the outbox)."""

import signal
import threading

from django.core.management.base import BaseCommand

from apps.core.heartbeat import Heartbeat
from apps.workflows.bridge import run_bridge


class Command(BaseCommand):
    help = "Deliver CloudEvents from Kafka topics to workflows and publish the event outbox."

    def add_arguments(self, parser):
        parser.add_argument(
            "--topic",
            action="append",
            dest="topics",
            metavar="TOPIC",
            help="a topic to consume (repeat for several); default: KAFKA_EVENTS_TOPIC",
        )
        parser.add_argument(
            "--no-relay", action="store_true", help="consume only; do not publish the outbox"
        )
        parser.add_argument(
            "--threads", type=int, default=None, help="partitions handled side by side"
        )

    def handle(self, *args, topics=None, no_relay=False, threads=None, **options):
        stop = threading.Event()
        # SIGTERM: finish the batch in hand, commit its offsets, leave the group, exit.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        beating = Heartbeat("bridge").start()  # /readyz: the bridge is running
        try:
            run_bridge(stop, topics=topics, relay=not no_relay, threads=threads)
        finally:
            beating.stop()
