"""What the apps' signal receivers share, and Celery's logging hook.

Each app connects its own lifecycle receivers (``jobs.observability``,
``exports.observability``, ``syncs.observability``); a receiver never breaks the thing it
observes: wrapped in :func:`never_raises`, it logs its own failure and returns.
"""

from __future__ import annotations

import functools
import logging
import sys

logger = logging.getLogger("syncservice.observability")


def never_raises(receiver):
    """Wrap a signal receiver so that its failure is logged, never raised into the sender."""
    @functools.wraps(receiver)
    def wrapper(*args, **kwargs):
        try:
            receiver(*args, **kwargs)
        except Exception:  # noqa: BLE001 - observing must never fail the observed
            logger.exception("Observability receiver %s failed", receiver.__name__)

    return wrapper


def on_celery_setup_logging(**kwargs) -> None:
    """Celery configures logging only when nobody answers this signal: Django's ``LOGGING``
    (structured) is already in place, so Celery keeps it."""


def connect() -> None:
    """Answer Celery's ``setup_logging`` in the processes that use Celery: the celery backend
    (``JOBS_BACKEND``), or a Celery worker, which imports celery before it sets Django up.
    Other processes (``run_worker``, the web) do not import celery for it."""
    from django.conf import settings

    if getattr(settings, "JOBS_BACKEND", "native") != "celery" and "celery" not in sys.modules:
        return
    try:
        from celery.signals import setup_logging
    except ImportError:  # pragma: no cover - celery is a dependency
        return
    setup_logging.connect(on_celery_setup_logging, weak=False,
                          dispatch_uid="observability.celery_logging")
