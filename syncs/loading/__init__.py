"""Writes records into warehouse tables, exactly once (``loader``), behind the checkpoint
fence (``fence``)."""

from syncs.loading.fence import (
    CheckpointLease,
    StaleAttempt,
    bound_idle_transaction,
    read_checkpoint,
    take,
)
from syncs.loading.loader import TableLoader, column_name

__all__ = ["CheckpointLease", "StaleAttempt", "TableLoader", "bound_idle_transaction",
           "column_name", "read_checkpoint", "take"]
