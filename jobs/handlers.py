"""Built-in handlers: useful for demos, smoke tests and benchmarks."""

from __future__ import annotations

import time

from jobs.registry import job_handler


@job_handler("jobs.noop")
def noop(ctx, payload: dict) -> None:
    return None


@job_handler("jobs.sleep")
def sleep(ctx, payload: dict) -> dict:
    """Sleep ``seconds`` (default 5) in ``steps`` steps, reporting progress after each; stops
    at the next step when cancelled."""
    seconds = float(payload.get("seconds", 5))
    steps = max(1, int(payload.get("steps", 10)))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        ctx.progress(100 * step / steps)
    return {"slept_seconds": seconds}


@job_handler("jobs.fail", max_retries=0)
def fail(ctx, payload: dict) -> None:
    """Always fails with ``message``: shows how failures and their tracebacks are recorded."""
    raise RuntimeError(payload.get("message", "This job always fails."))
