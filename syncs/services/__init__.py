"""Connections, syncs and runs: validation against the catalog, the one-active-run rule,
trigger / cancel / retry, attempts and auto-resume, and the sync's status bookkeeping.

One module per concern; this package hands their public names on, so ``from syncs import
services`` / ``services.trigger(...)`` reads as before. Code that replaces one of them in a
test patches the module that calls it (e.g. ``syncs.services.scheduling.trigger``)."""

from syncs.services.binding_defaults import physical_name, save_bindings
from syncs.services.bindings import BINDING_MEMBERS, add_binding, remove_binding, update_binding
from syncs.services.connections import (
    ConnectionInUse,
    check_connection,
    check_name_free,
    connection_users,
    create_connection,
    delete_connection,
    secret_names,
    update_connection,
    validate_connection,
)
from syncs.services.cron import ScheduleError
from syncs.services.errors import SyncStateError, attribute_error
from syncs.services.periodic import (
    SCHEDULE_JOB,
    SWEEP_JOB,
    describe_problem,
    periodic_item_failed,
)
from syncs.services.provider_catalog import catalog_entry
from syncs.services.runs import (
    RUN_JOB,
    TASK_JOB,
    TRIGGERABLE,
    cancel_jobs,
    cancel_run,
    record_outcome,
    retry_run,
    trigger,
)
from syncs.services.scheduling import run_due_schedules, schedule_next
from syncs.services.sources import (
    connection_login,
    connection_secrets,
    open_connection_source,
    store_rotated_secrets,
)
from syncs.services.stalled_runs import fail_stalled_run, sweep_stalled_runs
from syncs.services.syncs import create_sync, delete_sync, update_sync, why_sync_kept
from syncs.services.validation import validate_sync

__all__ = [
    "BINDING_MEMBERS", "RUN_JOB", "SCHEDULE_JOB", "SWEEP_JOB", "TASK_JOB", "TRIGGERABLE",
    "ConnectionInUse", "ScheduleError", "SyncStateError", "add_binding", "attribute_error",
    "cancel_jobs", "cancel_run", "catalog_entry", "check_connection", "check_name_free",
    "connection_login", "connection_secrets", "connection_users", "create_connection",
    "create_sync", "delete_connection", "delete_sync", "describe_problem", "fail_stalled_run",
    "open_connection_source", "periodic_item_failed", "physical_name", "record_outcome",
    "remove_binding", "retry_run", "run_due_schedules", "save_bindings", "schedule_next",
    "secret_names", "store_rotated_secrets", "sweep_stalled_runs", "trigger", "update_binding",
    "update_connection", "update_sync", "validate_connection", "validate_sync", "why_sync_kept",
]
