"""Gunicorn settings of the web tier: `gunicorn -c xflow_site/gunicorn_conf.py xflow_site.wsgi`.

`make run` serves through this too (scripts/devstack.py), so development and production
run the same server. Every value can be overridden from the environment.

Sizing for the 2-core development machine: 2 processes, so Python code runs on both cores
(one GIL per process), each with 4 threads, so a request waiting on PostgreSQL, Temporal or
Redis does not hold a core. More threads would mostly queue on the GIL of a box that also
runs the Temporal worker, the bridge, Celery and the services. Each process's database pool
(DB_POOL_MAX_SIZE, 8) covers its 4 request threads plus /readyz's probe threads, so
connections stay at most workers x pool size. Production: WEB_CONCURRENCY = cores.
"""

import os

bind = os.environ.get("XFLOW_WEB_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Clients beyond workers x threads wait in the accept queue, not in an error page.
backlog = int(os.environ.get("WEB_BACKLOG", "2048"))
worker_connections = 1000
# A request stuck this long (a hung dependency) gets its worker restarted.
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# One shared control socket per user would clash between checkouts on one machine.
control_socket_disable = True
# Access lines for every request would drown the log under load; set WEB_ACCESS_LOG=- to see.
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
proc_name = "xflow-web"
