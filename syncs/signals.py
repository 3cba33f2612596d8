"""Signals other apps (observability) listen to without ``syncs`` knowing them."""

from django.dispatch import Signal

# Sent once a run is closed by the runner (``finalize``: succeeded or failed;
# ``close_cancelled``: cancelled), with ``run_id`` and, when at hand, ``run`` (the row).
run_finished = Signal()

# Sent by ``TableLoader.write`` after a batch committed, with ``binding``, ``run_id`` and
# ``rows`` (how many were written).
rows_loaded = Signal()

# Sent by ``TableLoader.write`` inside a batch's transaction, after its rows are written and
# before its checkpoint moves, with ``binding``, ``run_id`` and ``rows``. A receiver that raises
# rolls the batch back (the tests use it to stop a worker mid-batch).
batch_staged = Signal()
