"""Handlers are plain functions registered under a name: ``@job_handler("exports.build")``.

``jobs`` never imports the apps that register handlers; each app imports its handlers module
in ``AppConfig.ready()`` so every process (server, worker, Celery) knows the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any, dict], Any]  # (ctx, payload) -> JSON-serializable result


@dataclass(frozen=True)
class RegisteredHandler:
    name: str
    func: Handler
    max_retries: int | None = None


_registry: dict[str, RegisteredHandler] = {}


class UnknownJobClass(LookupError):
    pass


def job_handler(name: str, *, max_retries: int | None = None) -> Callable[[Handler], Handler]:
    """Register ``func(ctx, payload)`` as the handler of jobs whose ``job_class`` is ``name``.
    ``max_retries`` is the default for jobs enqueued without one."""

    def register(func: Handler) -> Handler:
        existing = _registry.get(name)
        if existing is not None and existing.func is not func and (
                existing.func.__module__, existing.func.__qualname__) != (
                func.__module__, func.__qualname__):
            raise ValueError(f"Job class {name!r} is already registered by {existing.func!r}")
        _registry[name] = RegisteredHandler(name, func, max_retries)
        return func

    return register


def get_handler(name: str) -> RegisteredHandler:
    try:
        return _registry[name]
    except KeyError:
        raise UnknownJobClass(f"No handler is registered for job class {name!r}") from None


def registered_names() -> list[str]:
    return sorted(_registry)
