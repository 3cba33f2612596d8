"""Signals other apps listen to without ``jobs`` knowing them."""

from django.dispatch import Signal

# Sent with ``job`` (the row after the change) when the reaper requeues or fails a job whose
# heartbeat stopped.
job_reaped = Signal()

# Sent by ``jobs.worker.execute`` (native worker and Celery alike), in the thread that runs
# the job: ``job_started`` with ``job`` (as claimed) and ``worker_id`` before its handler
# runs; ``job_finished`` with the same and ``status`` (what ``execute`` returns: succeeded,
# failed, cancelled, pending when released or retrying, lost; "error" when execute raised)
# and ``duration`` (seconds).
job_started = Signal()
job_finished = Signal()
