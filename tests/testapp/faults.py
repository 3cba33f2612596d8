"""Fault injection for the tests' worker processes, driven by environment variables:

- ``TEST_FAULT_STOP_IN_BATCH=N``: the process stops itself (SIGSTOP) inside the transaction of
  the N-th batch it loads, after the rows are written and before the checkpoint moves;
- ``TEST_FAULT_KILL_IN_BATCH=N``: the same with SIGKILL;
- ``TEST_FAULT_STOP_BEFORE_EXPORT_COMMIT=1``: an export build stops (SIGSTOP) once its files
  are published, just before the transaction that lists them and marks the export done.

Each fires once per process. Nothing is connected unless one of them is set."""

import os
import signal
import threading

from syncs.signals import batch_staged

_batches = 0


def _fault(sender, **kwargs) -> None:
    global _batches
    _batches += 1
    for name, signum in (("TEST_FAULT_STOP_IN_BATCH", signal.SIGSTOP),
                         ("TEST_FAULT_KILL_IN_BATCH", signal.SIGKILL)):
        if os.environ.get(name) == str(_batches):
            # Sent to this thread, so it stops right here; a signal sent to the process may
            # be taken by another thread, and this one would go on for a moment.
            signal.pthread_kill(threading.get_ident(), signum)


def _stop_before(method):
    def stopped_first(*args, **kwargs):
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)
        return method(*args, **kwargs)

    return stopped_first


def connect() -> None:
    if os.environ.get("TEST_FAULT_STOP_IN_BATCH") or os.environ.get("TEST_FAULT_KILL_IN_BATCH"):
        batch_staged.connect(_fault, dispatch_uid="tests.testapp.faults")
    if os.environ.get("TEST_FAULT_STOP_BEFORE_EXPORT_COMMIT"):
        from exports.services import _FileSink

        _FileSink.commit = _stop_before(_FileSink.commit)
