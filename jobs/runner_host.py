"""What a runner thread (``jobs.runner``, ``jobs.claim_ahead``) uses of the worker that runs it:
its settings and the state its threads share. ``jobs.worker.Worker`` is one; the runner
modules depend on this interface rather than on the module that starts them."""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from jobs.models import Job


class RunnerHost(Protocol):
    worker_id: str
    queues: list[str]
    burst: bool
    prefetch: int
    poll_seconds: float
    SHORT_JOB_SECONDS: float
    MAX_RETRY_SECONDS: float

    # Shared by the worker's threads (the mutable ones under ``lock``).
    lock: threading.Lock
    stopping: threading.Event
    shutdown: threading.Event
    wake: threading.Event
    contexts: dict
    idle: set[int]
    processed: int
    ready: dict[int, deque[Job]]
    running_since: dict[int, float]
    held: set

    def release_ready(self, index: int) -> None: ...

    def all_idle(self, index: int) -> bool: ...
