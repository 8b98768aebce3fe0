"""xflow settings, read from the environment.

Defaults match what `make run` starts on a developer machine (everything on 127.0.0.1).
Set XFLOW_ENV=production for the hardened profile (`manage.py check --deploy` is clean there).
"""

from __future__ import annotations

from pathlib import Path

from .env import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(env_str("XFLOW_RUN_DIR", str(BASE_DIR / ".run")))

XFLOW_ENV = env_str("XFLOW_ENV", "development")
PRODUCTION = XFLOW_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ConfigError("SECRET_KEY must be set when XFLOW_ENV=production")
    SECRET_KEY = "dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.core",
    "apps.workflows",
    "apps.tasks",
    "apps.files",
    "apps.forms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # NUL characters in an API path, query or header: 400 before anything looks them up.
    "apps.core.middleware.ApiInputMiddleware",
    # Serves /static/ (inbox CSS, admin, Swagger UI assets) from the app itself: no CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "xflow_site.urls"
WSGI_APPLICATION = "xflow_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/xflow")
    )
}
# Bounded connections: one psycopg pool per process instead of a persistent connection per
# thread. With CONN_MAX_AGE > 0 every thread that ever served a request (gunicorn's gthread
# workers, the worker's activity threads, readiness probe threads) keeps its own connection
# for that long, so the count grows with the threads ever used and not with the load: a few
# busy clients exhausted PostgreSQL's 100. A pool caps each process at DB_POOL_MAX_SIZE, and
# handing a pooled connection to a request or an activity (which close theirs after every
# call) costs no new connection. Total = processes x max size: see the README's table.
# DB_POOL_MAX_SIZE=0 turns the pool off (then no persistent connections at all).
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 8)
DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not the threads
if DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(env_int("DB_POOL_MIN_SIZE", 1), DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        # A request waits this long for a free connection before it fails (then a 500).
        "timeout": float(env_str("DB_POOL_TIMEOUT", "10")),
        # Idle connections above min_size are closed after this long.
        "max_idle": 60,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "xflow"),
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            # A cache outage must not take pages down: reads miss, writes are dropped.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "inbox:login"
LOGIN_REDIRECT_URL = "inbox:home"
LOGOUT_REDIRECT_URL = "inbox:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(RUN_DIR / "static")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(RUN_DIR / "media")))
MEDIA_URL = "media/"

# Without collectstatic (development, tests) serve straight from the apps' static folders.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
WHITENOISE_AUTOREFRESH = DEBUG

# Files: local filesystem by default, S3 when XFLOW_STORAGE=s3.
XFLOW_STORAGE = env_str("XFLOW_STORAGE", "filesystem")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if XFLOW_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("S3_BUCKET", "xflow"),
            "endpoint_url": env_str("S3_ENDPOINT_URL"),
            "region_name": env_str("S3_REGION", "us-east-1"),
            "access_key": env_str("S3_ACCESS_KEY_ID"),
            "secret_key": env_str("S3_SECRET_ACCESS_KEY"),
            "addressing_style": env_str("S3_ADDRESSING_STYLE", "auto"),
            "querystring_expire": env_int("S3_PRESIGN_SECONDS", 300),
            # Presigned download URLs: SigV4, which every AWS region accepts.
            "signature_version": env_str("S3_SIGNATURE_VERSION", "s3v4"),
            "file_overwrite": False,
        },
    }
elif XFLOW_STORAGE != "filesystem":
    raise ConfigError(f"XFLOW_STORAGE={XFLOW_STORAGE!r}: use 'filesystem' or 's3'")
# Downloads in S3 mode redirect to a presigned URL valid this long.
XFLOW_FILE_PRESIGN_SECONDS = env_int("S3_PRESIGN_SECONDS", 300)
# The largest file accepted (413 beyond); uploads stream through a temporary file.
XFLOW_FILE_MAX_BYTES = env_int("XFLOW_FILE_MAX_BYTES", 25 * 1024 * 1024)
# Content types (sniffed from the bytes) accepted and refused; `image/*` names a family.
# An empty allow list accepts every type the deny list does not name.
XFLOW_FILE_ALLOWED_TYPES = env_list("XFLOW_FILE_ALLOWED_TYPES")
XFLOW_FILE_DENIED_TYPES = env_list(
    "XFLOW_FILE_DENIED_TYPES",
    [
        "application/x-executable",
        "application/x-msdownload",
        "application/x-mach-binary",
        "application/x-sharedlib",
        "application/java-archive",
        "application/vnd.android.package-archive",
        "application/wasm",
        "text/x-shellscript",
    ],
)
if XFLOW_FILE_MAX_BYTES < 1:
    raise ConfigError("XFLOW_FILE_MAX_BYTES must be at least 1")

# Temporal
TEMPORAL_ADDRESS = env_str("TEMPORAL_ADDRESS", "127.0.0.1:7233")
TEMPORAL_NAMESPACE = env_str("TEMPORAL_NAMESPACE", "default")
TEMPORAL_TLS = env_bool("TEMPORAL_TLS", False)
TEMPORAL_TLS_CERT = env_str("TEMPORAL_TLS_CERT")  # path to a client certificate (mTLS)
TEMPORAL_TLS_KEY = env_str("TEMPORAL_TLS_KEY")
TEMPORAL_API_KEY = env_str("TEMPORAL_API_KEY")  # Temporal Cloud API key
TEMPORAL_QUEUE_PREFIX = env_str("TEMPORAL_QUEUE_PREFIX", "")
# Encrypts workflow inputs/results/signals in Temporal's history (they hold $SECRETS values).
# TEMPORAL_PAYLOAD_KEYS (comma-separated) rotates: the first encrypts, all decrypt.
TEMPORAL_PAYLOAD_KEYS = env_list("TEMPORAL_PAYLOAD_KEYS")
TEMPORAL_PAYLOAD_KEY = env_str("TEMPORAL_PAYLOAD_KEY") or next(iter(TEMPORAL_PAYLOAD_KEYS), None)

# jq expressions (workflows, forms, queries, triggers) run in child processes under these
# limits per evaluation (apps/core/jqeval, PRODUCT.md §8); exceeding one is the workflow
# error `expression_limit`. CPU and wall time stay well under Temporal's 2 s deadlock
# detector for a workflow activation; the wall clock only guards a child that makes no
# progress (CPU time repeats on replay, wall time depends on the machine's load).
XFLOW_EXPRESSION_CPU_SECONDS = float(env_str("XFLOW_EXPRESSION_CPU_SECONDS", "0.5"))
XFLOW_EXPRESSION_WALL_SECONDS = float(env_str("XFLOW_EXPRESSION_WALL_SECONDS", "1.5"))
XFLOW_EXPRESSION_MEMORY_MB = env_int("XFLOW_EXPRESSION_MEMORY_MB", 256)
XFLOW_EXPRESSION_OUTPUT_KB = env_int("XFLOW_EXPRESSION_OUTPUT_KB", 4096)
XFLOW_EXPRESSION_POOL_SIZE = env_int("XFLOW_EXPRESSION_POOL_SIZE", 4)  # children per process
if not 0 < XFLOW_EXPRESSION_CPU_SECONDS <= XFLOW_EXPRESSION_WALL_SECONDS < 2:
    raise ConfigError(
        "XFLOW_EXPRESSION_CPU_SECONDS must be > 0 and <= XFLOW_EXPRESSION_WALL_SECONDS, which"
        " must stay under 2 (Temporal fails a workflow activation that runs 2 s)"
    )
if XFLOW_EXPRESSION_MEMORY_MB < 32 or XFLOW_EXPRESSION_OUTPUT_KB < 1:
    raise ConfigError("XFLOW_EXPRESSION_MEMORY_MB must be >= 32 and _OUTPUT_KB >= 1")

# Kafka
KAFKA_BOOTSTRAP_SERVERS = env_list("KAFKA_BOOTSTRAP_SERVERS", ["127.0.0.1:9092"])
KAFKA_SECURITY_PROTOCOL = env_str("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
KAFKA_SASL_MECHANISM = env_str("KAFKA_SASL_MECHANISM")
KAFKA_SASL_USERNAME = env_str("KAFKA_SASL_USERNAME")
KAFKA_SASL_PASSWORD = env_str("KAFKA_SASL_PASSWORD")
KAFKA_TOPIC_PREFIX = env_str("KAFKA_TOPIC_PREFIX", "xflow.")
KAFKA_CONSUMER_GROUP = env_str("KAFKA_CONSUMER_GROUP", "xflow-bridge")
# The bridge consumes KAFKA_EVENTS_TOPIC (and `run_bridge --topic`); what the platform produces
# (workflow events, task lifecycle events) goes to KAFKA_PRODUCED_TOPIC, never to a consumed
# topic, so the platform does not re-read its own output. Unreadable messages: the dead letters.
KAFKA_EVENTS_TOPIC = env_str("KAFKA_EVENTS_TOPIC", f"{KAFKA_TOPIC_PREFIX}events")
KAFKA_PRODUCED_TOPIC = env_str("KAFKA_PRODUCED_TOPIC", f"{KAFKA_TOPIC_PREFIX}produced")
KAFKA_DEADLETTER_TOPIC = env_str("KAFKA_DEADLETTER_TOPIC", f"{KAFKA_TOPIC_PREFIX}deadletter")
# A consumed message (or HTTP event) larger than this is dead-lettered (refused).
XFLOW_EVENT_MAX_BYTES = env_int("XFLOW_EVENT_MAX_BYTES", 1024 * 1024)
# The outbox relay: rows per batch, how long a bridge's claim on them lasts, and how often a
# failing row is tried (backoff doubling from 1 s up to 5 min) before it is marked failed.
XFLOW_OUTBOX_BATCH = env_int("XFLOW_OUTBOX_BATCH", 500)
XFLOW_OUTBOX_LEASE_SECONDS = env_int("XFLOW_OUTBOX_LEASE_SECONDS", 60)
XFLOW_OUTBOX_MAX_ATTEMPTS = env_int("XFLOW_OUTBOX_MAX_ATTEMPTS", 10)
XFLOW_OUTBOX_SEND_TIMEOUT_SECONDS = float(env_str("XFLOW_OUTBOX_SEND_TIMEOUT_SECONDS", "15"))
# The bridge handles this many partitions side by side (each partition's messages in order).
XFLOW_BRIDGE_THREADS = env_int("XFLOW_BRIDGE_THREADS", 4)
# Threads (lanes) sending routing's starts and signals to Temporal, a partition always on the
# same lane (0: each partition's thread sends its own, after each batch). Partition threads +
# senders + the relay share DB_POOL_MAX_SIZE.
XFLOW_BRIDGE_SENDERS = env_int("XFLOW_BRIDGE_SENDERS", 3)
# Events routed in one transaction (a poll's messages of a partition, up to 500, are split).
XFLOW_BRIDGE_BATCH_EVENTS = env_int("XFLOW_BRIDGE_BATCH_EVENTS", 200)
XFLOW_BRIDGE_MAX_REQUEST_BYTES = env_int("XFLOW_BRIDGE_MAX_REQUEST_BYTES", 8 * 1024 * 1024)

# Celery on Redis
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Events that reach no instance are kept this long for a wait that comes later.
XFLOW_EVENT_RETENTION_SECONDS = env_int("XFLOW_EVENT_RETENTION_SECONDS", 3600)
# Retention of the event tables (apps/workflows/services/retention.py), in days; 0 or less
# keeps that table's rows for ever. Inbound events once routed (or unrouted and no longer
# kept), with their deliveries, never while a delivery is pending; outbox rows once sent;
# dead letters once an operator replayed or discarded them. (The dedupe by source and id
# lasts as long as an inbound event's row.)
XFLOW_INBOUND_RETENTION_DAYS = env_float("XFLOW_INBOUND_RETENTION_DAYS", 7.0)
XFLOW_OUTBOX_RETENTION_DAYS = env_float("XFLOW_OUTBOX_RETENTION_DAYS", 7.0)
XFLOW_DEADLETTER_RETENTION_DAYS = env_float("XFLOW_DEADLETTER_RETENTION_DAYS", 30.0)
# Periodic jobs (run by `celery beat`, embedded in `make run`'s celery worker with -B).
XFLOW_RECONCILE_SECONDS = float(env_str("XFLOW_RECONCILE_SECONDS", "30"))
XFLOW_EVENT_PURGE_SECONDS = float(env_str("XFLOW_EVENT_PURGE_SECONDS", "3600"))
CELERY_BEAT_SCHEDULE = {
    "reconcile-instances": {
        "task": "xflow.workflows.reconcile",
        "schedule": XFLOW_RECONCILE_SECONDS,
        "options": {"expires": XFLOW_RECONCILE_SECONDS},
    },
    "purge-event-records": {
        "task": "xflow.workflows.purge_event_records",
        "schedule": XFLOW_EVENT_PURGE_SECONDS,
        "options": {"expires": XFLOW_EVENT_PURGE_SECONDS},
    },
}

# Secrets store: values are encrypted at rest with a key derived from this (or SECRET_KEY).
# XFLOW_SECRETS_KEYS (comma-separated) rotates: the first encrypts, all decrypt.
XFLOW_SECRETS_KEYS = env_list("XFLOW_SECRETS_KEYS")
XFLOW_SECRETS_KEY = env_str("XFLOW_SECRETS_KEY") or next(iter(XFLOW_SECRETS_KEYS), SECRET_KEY)

# API tokens: sign-in attempts per client address and per username, and an optional lifetime.
XFLOW_TOKEN_THROTTLE_RATE = env_str("XFLOW_TOKEN_THROTTLE_RATE", "10/min")
XFLOW_TOKEN_TTL_HOURS = env_float("XFLOW_TOKEN_TTL_HOURS")  # unset: tokens never expire

# Outbound policy (apps/core/outbound.py): every URL the platform fetches or calls on a user's
# behalf (definition parts, OpenAPI/GraphQL documents, REST/GraphQL calls, OAuth token
# endpoints) must be http(s) and reach a public address. Loopback, private, link-local and
# reserved addresses are refused unless listed in XFLOW_OUTBOUND_ALLOW -- in development too:
# `make run` puts this platform's admin, Postgres and Redis on 127.0.0.1, and a definition
# must not reach them. Allow a local mock service explicitly, e.g.
# XFLOW_OUTBOUND_ALLOW=127.0.0.1:9999. Entries: host, *.domain, IP, CIDR, each optionally with
# :port ([::1]:8080 for IPv6). The tests allow exactly the local services they start.
XFLOW_OUTBOUND_ALLOW = env_list("XFLOW_OUTBOUND_ALLOW")
# Time cap of one call that states no timeout (a definition's actionExecTimeout replaces it).
XFLOW_OUTBOUND_TIMEOUT_SECONDS = float(env_str("XFLOW_OUTBOUND_TIMEOUT_SECONDS", "30"))
# Largest answer read (decoded); reading stops there.
XFLOW_OUTBOUND_MAX_RESPONSE_BYTES = env_int("XFLOW_OUTBOUND_MAX_RESPONSE_BYTES", 10 * 1024 * 1024)
# The only directory whose files definitions may name (`file://petstore.json`, a dataInputSchema
# file...); unset, no file is read.
XFLOW_RESOURCE_DIR = env_str("XFLOW_RESOURCE_DIR")

# Readiness probes give each component this long.
READINESS_TIMEOUT_SECONDS = float(env_str("READINESS_TIMEOUT_SECONDS", "2"))
# The worker, bridge and Celery write a heartbeat this often; three missed ones mean "down".
HEARTBEAT_SECONDS = float(env_str("HEARTBEAT_SECONDS", "5"))

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "xflow@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": (
        ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"]
        if DEBUG
        else ["rest_framework.renderers.JSONRenderer"]
    ),
    # Bounded: 413 from the Content-Length before reading; JSON depth, NUL, surrogates: 400.
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.JSONParser",
        "apps.core.api.parsers.FormParser",
        "apps.core.api.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.negotiation.ContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    # Adds the error responses (one shared `Error` schema) to every operation.
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=` belongs to our endpoints (definition export), not to content negotiation.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "xflow API",
    "DESCRIPTION": "Workflow definitions, instances, user tasks, forms, files and events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DefinitionStatusEnum": "apps.workflows.models.definitions.DefinitionStatus",
        "InstanceStatusEnum": "apps.workflows.models.instances.InstanceStatus",
        "TaskStatusEnum": "apps.tasks.lifecycle.TaskStatus",
    },
}

# Request bodies: the API reads at most this much of any body (413 beyond, from the
# Content-Length, before reading); definitions at most 1 MiB. Uploads stream to storage.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
# JSON bodies nest at most this deep (objects and arrays), as definitions do in YAML.
XFLOW_API_MAX_DEPTH = env_int("XFLOW_API_MAX_DEPTH", 64)

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # The logger name is the component: xflow.web, xflow.worker, xflow.bridge, ...
        "component": {"format": "%(asctime)s %(levelname)s [%(name)s] %(message)s"},
    },
    "filters": {
        # contracts.FUNCTION_ERROR: function failures are logged by xflow, masked.
        "business_failures": {
            "()": "apps.core.logs.HideFailureTracebacks",
            "error_types": ["FunctionError"],
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "component",
            "filters": ["business_failures"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "xflow": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "temporalio": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
