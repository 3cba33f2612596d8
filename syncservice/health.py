"""Liveness/readiness: no authentication, plain JSON.

``/healthz`` (liveness): the process answers and reaches its database. ``/readyz``
(readiness): everything a request or a job needs answers: each database (SELECT 1 on the
main one and the warehouse), the file storage (a tiny probe file written and deleted) and,
with ``JOBS_BACKEND=celery``, the broker. 503 names the failing check.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, connections
from django.http import JsonResponse

from syncservice.observability.views import metrics_view as metrics  # noqa: F401 - /metrics

logger = logging.getLogger("syncservice.health")

BROKER_TIMEOUT_SECONDS = 2.0
STORAGE_PROBE_PREFIX = ".readyz-"  # at the top: no directory is left behind


def _error(exc: BaseException) -> str:
    return f"error: {exc.__class__.__name__}"


def _response(checks: dict) -> JsonResponse:
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "error", "checks": checks}
    if not healthy:
        body["failing"] = sorted(name for name, value in checks.items() if value != "ok")
    return JsonResponse(body, status=200 if healthy else 503)


def _select_one(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        logger.warning("Readiness: database %s failed: %r", alias, exc)
        return _error(exc)


def healthz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        checks["database"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks},
                        status=200 if healthy else 503)


def check_storage() -> str:
    """Write and delete a tiny file: proves the storage is reachable and writable."""
    from django.core.files.storage import default_storage

    try:
        name = default_storage.save(f"{STORAGE_PROBE_PREFIX}{uuid.uuid4().hex}.txt",
                                    ContentFile(b"ok"))
        default_storage.delete(name)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        logger.warning("Readiness: storage failed: %r", exc)
        return _error(exc)


def check_broker() -> str:
    """Connect to the Celery broker, once, with a short timeout."""
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL,
                        connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                     timeout=BROKER_TIMEOUT_SECONDS)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        logger.warning("Readiness: broker failed: %r", exc)
        return _error(exc)


def readyz(request):
    checks = {"database": _select_one("default")}
    warehouse = getattr(settings, "WAREHOUSE_DATABASE_ALIAS", "default")
    if warehouse != "default":
        checks["warehouse"] = _select_one(warehouse)
    checks["storage"] = check_storage()
    if settings.JOBS_BACKEND == "celery":
        checks["broker"] = check_broker()
    return _response(checks)
