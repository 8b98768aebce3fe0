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
            help="a topic to consume (repeat for several); default: <prefix>events",
        )

    def handle(self, *args, topics=None, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        beating = Heartbeat("bridge").start()  # /readyz: the bridge is running
        try:
            run_bridge(stop, topics=topics)
        finally:
            beating.stop()
