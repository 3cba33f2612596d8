"""The runner modules type their worker as ``RunnerHost``; the worker must be one."""

from jobs.runner_host import RunnerHost
from jobs.worker import Worker


def test_the_worker_has_everything_a_runner_uses(db):
    worker = Worker()
    missing = [name for name in (*RunnerHost.__annotations__, "release_ready", "all_idle")
               if not hasattr(worker, name)]
    assert missing == []
