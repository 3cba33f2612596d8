"""gunicorn settings for the web process.

    gunicorn syncservice.wsgi -c python:syncservice.observability.gunicorn_conf \
        -b 0.0.0.0:8000 -w 4

Command-line options win over these. gunicorn's own log lines go through the same structlog
formatter as the application's (JSON by default); gunicorn's access log stays off because the
request middleware writes one structured line per request. With PROMETHEUS_MULTIPROC_DIR set,
the directory is emptied when the server starts and a dead worker's files are marked, so
``/metrics`` adds up the live workers (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from pathlib import Path

from syncservice.observability.logs import formatter

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Restart workers now and then (bounded memory growth), not all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Trust X-Forwarded-* from these proxies (the compose network's; tighten in production).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": formatter,
                                  "fmt": os.environ.get("LOG_FORMAT", "json")}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured",
                             "stream": "ext://sys.stderr"}},
    "root": {"level": _LEVEL, "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": _LEVEL, "handlers": [], "propagate": True},
        # The request middleware logs each request (with its id): no second access line.
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}


def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # a previous server's values
            stale.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
