"""Celery on Redis and the django-redis cache, against the real Redis server."""

import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from apps.core.tasks import ping
from xflow_site.celery import app


def test_cache_round_trips_through_redis():
    key = f"test:{uuid.uuid4()}"
    cache.set(key, {"a": [1, 2]}, timeout=30)
    assert cache.get(key) == {"a": [1, 2]}
    from django_redis import get_redis_connection

    assert get_redis_connection("default").ttl(cache.make_key(key)) > 0
    cache.delete(key)
    assert cache.get(key) is None


@pytest.fixture
def private_queue():
    """A queue of this test's own: a `make run` worker on the same Redis must not take it."""
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = f"test-{uuid.uuid4().hex[:8]}"
    yield app.conf.task_default_queue
    app.conf.task_default_queue = previous


@pytest.mark.django_db(transaction=True)
def test_a_celery_task_runs_on_a_real_worker(private_queue):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = ping.delay("hello").get(timeout=20)
    assert result["message"] == "hello"
