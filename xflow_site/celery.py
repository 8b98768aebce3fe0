"""The Celery app (broker: Redis). Tasks live in each app's `tasks.py`."""

import os

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")

app = Celery("xflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_heartbeat = []


@worker_ready.connect
def _start_heartbeat(**kwargs):
    """/readyz learns from this heartbeat that a Celery worker runs (apps/core/heartbeat.py)."""
    from apps.core.heartbeat import Heartbeat

    _heartbeat.append(Heartbeat("celery").start())


@worker_shutdown.connect
def _stop_heartbeat(**kwargs):
    while _heartbeat:
        _heartbeat.pop().stop()
