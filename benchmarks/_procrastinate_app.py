"""The Procrastinate side of ``queue_throughput.py`` (benchmark-only; needs the ``bench`` extra).

Worker processes load it as ``--app=_procrastinate_app.app`` with ``benchmarks/`` on
``PYTHONPATH``; the connection string comes from ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector(conninfo=os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_queue")))


@app.task(name="bench.noop", queue="default")
async def noop() -> None:
    """An async no-op: Procrastinate's cheapest path (no thread hop), so its best case."""
    return None


@app.task(name="bench.noop_sync", queue="default")
def noop_sync() -> None:
    """A sync no-op, run in a thread like our handlers are (``--procrastinate-task sync``)."""
    return None
