"""Settings come from the environment, with clear errors for unusable values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xflow_site.env import ConfigError, env_bool, env_list, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_database_url_is_parsed_into_django_settings():
    db = parse_database_url("postgresql://app:p%40ss@db.internal:6543/xflow?sslmode=require")
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "xflow",
        "app",
        "p@ss",
        "db.internal",
        "6543",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize("url", ["mysql://x@h/db", "postgresql://x@h:5432/"])
def test_unusable_database_url_is_refused_with_a_reason(url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        parse_database_url(url)


def test_booleans_and_lists(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    monkeypatch.setenv("HOSTS", "a.example, b.example,")
    assert env_bool("FLAG") is True
    assert env_list("HOSTS") == ["a.example", "b.example"]
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ConfigError, match="FLAG='maybe' is not a boolean"):
        env_bool("FLAG")


def _manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_production_profile_passes_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        XFLOW_ENV="production",
        SECRET_KEY="x" * 64 + "-production-secret-key-for-tests",
        ALLOWED_HOSTS="xflow.example.com",
        TEMPORAL_PAYLOAD_KEY="a payload key for the production profile test",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_secret_key_refuses_to_start():
    result = _manage("check", XFLOW_ENV="production", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_settings_follow_the_environment():
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; "
        "print(s.TEMPORAL_ADDRESS, s.KAFKA_BOOTSTRAP_SERVERS, s.CACHES['default']['LOCATION'])",
        TEMPORAL_ADDRESS="temporal.example:7233",
        KAFKA_BOOTSTRAP_SERVERS="k1:9092,k2:9092",
        REDIS_URL="redis://cache.example:6379/3",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "temporal.example:7233",
        "['k1:9092',",
        "'k2:9092']",
        "redis://cache.example:6379/3",
    ]
