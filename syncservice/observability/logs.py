"""Structured logging: structlog renders every record, the stdlib's included.

``settings.LOGGING`` (built by :func:`build_logging`) gives the root logger one handler whose
formatter is structlog's ``ProcessorFormatter``: records of plain ``logging`` loggers
(``django``, ``jobs``, ``syncs``, ``exports``, Celery, gunicorn) and of structlog loggers come
out alike, one JSON object per line (``LOG_FORMAT=json``, the default without ``DEBUG``) or as
readable console lines (``LOG_FORMAT=console``, the default with ``DEBUG``). Both carry the
context bound with ``structlog.contextvars`` (``request_id``, ``project``, ``job_id``, …).
"""

from __future__ import annotations

import sys
from typing import Any

import structlog

FORMATS = ("json", "console")


def _drop_objects(logger: Any, method_name: str, event_dict: dict) -> dict:
    """Django passes the request (or a socket) as ``extra={"request": ...}``: the path is in
    the bound context already, and an object's repr is no log field."""
    if "request" in event_dict and not isinstance(event_dict["request"], str):
        del event_dict["request"]
    event_dict.pop("server_time", None)
    return event_dict


LEADING_KEYS = ("timestamp", "level", "logger", "event")


def _leading_keys_first(logger: Any, method_name: str, event_dict: dict) -> dict:
    """When, how bad, who, what: first on every JSON line, then the rest."""
    ordered = {key: event_dict.pop(key) for key in LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def shared_processors() -> list:
    """What every record gets, whether it comes from structlog or from ``logging``."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The ``logging.Formatter`` that renders records as ``fmt`` (for handlers outside
    ``LOGGING`` too, e.g. in tests)."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {FORMATS}, not {fmt!r}")
    if fmt == "json":
        tail = [structlog.processors.format_exc_info, _leading_keys_first,
                structlog.processors.JSONRenderer()]
    else:
        # Colours only on a terminal; plain tracebacks (never the locals: they may hold
        # secrets).
        tail = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                              exception_formatter=structlog.dev.plain_traceback)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared_processors(), structlog.stdlib.ExtraAdder(), _drop_objects],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )


def configure_structlog() -> None:
    """structlog loggers hand their events to ``logging`` (so one handler renders all)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def build_logging(level: str = "INFO", fmt: str = "json") -> dict:
    """A ``LOGGING`` dict: one stream handler on the root logger, rendered by structlog.

    Django's own loggers (``django``, ``django.server``) lose their default handlers and
    propagate to the root, so runserver and request errors are structured too.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": formatter, "fmt": fmt}},
        "handlers": {"console": {"class": "logging.StreamHandler",
                                 "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": [], "level": level, "propagate": True},
            # runserver's per-request line repeats the access line (syncservice.access):
            # only its warnings and errors.
            "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
            "django.request": {"level": "ERROR"},
        },
    }


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)

