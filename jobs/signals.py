"""Signals other apps listen to without ``jobs`` knowing them."""

from django.dispatch import Signal

# Sent with ``job`` (the row after the change) when the reaper requeues or fails a job whose
# heartbeat stopped.
job_reaped = Signal()
