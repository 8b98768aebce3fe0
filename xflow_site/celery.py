"""The Celery app (broker: Redis). Tasks live in each app's `tasks.py`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")

app = Celery("xflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
