"""Execution backends: how a pending job reaches something that runs it.

``native`` (default, ``jobs.native``): the ``run_worker`` processes poll the table; on
PostgreSQL a NOTIFY wakes idle workers at once. ``celery`` (``jobs.celery``): the job id is
sent to a Celery task after commit; the Celery worker claims the same row by id and runs the
same handler. Either way the Job row is the source of truth.

The backends are registered by dotted path (``JobsConfig.ready``) and imported on first use:
this module imports none of them (they import the queue's modules, which import this one), and
a process that never dispatches to Celery never imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

Dispatch = Callable[..., None]  # dispatch(job): hand a pending job to the backend

_backends: dict[str, str] = {}
_loaded: dict[str, Dispatch] = {}


def register_backend(name: str, dispatch_path: str) -> None:
    """``JOBS_BACKEND = name`` hands jobs to the function at ``dispatch_path``."""
    _backends[name] = dispatch_path
    _loaded.pop(name, None)


def dispatch(job) -> None:
    """Hand ``job`` (pending, maybe due later) to the backend ``JOBS_BACKEND`` names."""
    name = settings.JOBS_BACKEND
    backend = _loaded.get(name)
    if backend is None:
        if name not in _backends:
            raise ValueError(f"JOBS_BACKEND must be one of {sorted(_backends)}, not {name!r}")
        backend = _loaded[name] = import_string(_backends[name])
    backend(job)
