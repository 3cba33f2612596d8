"""Job handlers used by the tests; registered in every process that loads tests.settings
(worker subprocesses included)."""

import time

from jobs.registry import job_handler
from tests.testapp.models import SideEffect


def _record(ctx, kind="ran"):
    SideEffect.objects.create(job_id=ctx.job_id, worker_id=ctx.worker_id, kind=kind,
                              attempt=ctx.job.retry_count)


@job_handler("testapp.record")
def record(ctx, payload):
    _record(ctx)
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    return {"ok": True}


@job_handler("testapp.flaky")
def flaky(ctx, payload):
    """Fails while retry_count < succeed_on."""
    _record(ctx)
    if ctx.job.retry_count < payload.get("succeed_on", 99):
        raise ValueError(f"flaky failure on attempt {ctx.job.retry_count}")
    return {"attempt": ctx.job.retry_count}


@job_handler("testapp.cooperative")
def cooperative(ctx, payload):
    """Reports progress until cancelled (or ``seconds`` pass)."""
    _record(ctx, "started")
    deadline = time.monotonic() + payload.get("seconds", 30)
    step = 0
    while time.monotonic() < deadline:
        step += 1
        ctx.progress(min(step, 99))
        time.sleep(0.05)
    return {"steps": step}


@job_handler("testapp.hang")
def hang(ctx, payload):
    """Sleeps without heartbeating on its first attempt (to be killed), then succeeds."""
    _record(ctx, "started")
    if ctx.job.retry_count == 0:
        time.sleep(payload.get("seconds", 600))
    return {"attempt": ctx.job.retry_count}


@job_handler("testapp.checkpointing")
def checkpointing(ctx, payload):
    """Counts to ``until``, checkpointing each step, resuming from the saved checkpoint."""
    start = (ctx.saved_checkpoint or {}).get("done", 0)
    for done in range(start + 1, payload["until"] + 1):
        ctx.checkpoint({"done": done})
        if done == payload.get("fail_at") and ctx.job.retry_count == 0:
            raise RuntimeError("interrupted")
    return {"resumed_from": start}


@job_handler("testapp.count")
def count(ctx, payload):
    """Records the start and the end of each execution, each in its own committed row, with a
    ``sleep`` (seconds) between them: the fault tests count executions with it."""
    _record(ctx, "start")
    time.sleep(payload.get("sleep", 0))
    _record(ctx, "end")
    return {"ok": True}
