"""Liveness and readiness, against the real components `make test` brought up."""

import pytest


def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_every_component_up(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["ready"] is True
    assert set(body["components"]) == {"postgres", "redis", "temporal", "kafka"}
    assert all(c["ok"] for c in body["components"].values())
    assert body["down"] == []


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_component_that_is_down(client, settings):
    # Given Redis is pointed at a port where nothing listens
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.READINESS_TIMEOUT_SECONDS = 1
    # When the readiness probe runs
    response = client.get("/readyz")
    # Then it answers 503 and names redis, and only redis, as down, with a reason
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["redis"]
    assert body["components"]["redis"]["ok"] is False
    assert body["components"]["redis"]["error"]
    assert body["components"]["postgres"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_kafka_down_quickly(client, settings):
    import time

    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:1"]
    settings.READINESS_TIMEOUT_SECONDS = 1
    started = time.monotonic()
    body = client.get("/readyz").json()
    assert "kafka" in body["down"]
    assert time.monotonic() - started < 10
