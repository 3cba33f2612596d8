"""Every raw SQL statement of the job queue, by name, as Procrastinate keeps its
``sql/queries.sql``: the modules that change a job's state run these and build no SQL.

Parameters are named (``%(worker_id)s``). The table, the statuses and the NOTIFY channel are
formatted in once, here: at import, or for the statements that take a VALUES list of rows
(``finish_and_start_pg``, ``finish_and_claim_pg``), once per number of rows. Where PostgreSQL
and SQLite differ the statement's name says which one it is for (``_PG``, ``_SQLITE``); a
statement without a suffix runs on both.

A claim filters on the worker's queues in one of three shapes (``queue_filter``): any queue,
one queue (``queue = …``: PostgreSQL walks the ``jobs_job_claim`` index in claim order), or
several (``= ANY(array)`` on PostgreSQL, ``json_each`` on SQLite); the claims are keyed by it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jobs.models import Job, JobStatus

NOTIFY_CHANNEL = "syncservice_jobs"

_NAMES = {"table": f'"{Job._meta.db_table}"', "pending": JobStatus.PENDING.value,
          "running": JobStatus.RUNNING.value, "succeeded": JobStatus.SUCCEEDED.value,
          "channel": NOTIFY_CHANNEL}

ANY_QUEUE, ONE_QUEUE, SOME_QUEUES = "any", "one", "some"
_QUEUE_FILTERS = {
    "postgresql": {ANY_QUEUE: "", ONE_QUEUE: "AND queue = %(queue)s",
                   SOME_QUEUES: "AND queue = ANY(%(queues)s)"},
    "sqlite": {ANY_QUEUE: "", ONE_QUEUE: "AND queue = %(queue)s",
               SOME_QUEUES: "AND queue IN (SELECT value FROM json_each(%(queues)s))"},
}


def queue_filter(vendor: str, queues: list[str] | None) -> tuple[str, dict[str, Any]]:
    """The shape of a claim's queue filter (the key of ``CLAIM_PG`` and the others) and its
    parameters."""
    if not queues:
        return ANY_QUEUE, {}
    if len(queues) == 1:
        return ONE_QUEUE, {"queue": queues[0]}
    return SOME_QUEUES, {"queues": list(queues) if vendor == "postgresql" else json.dumps(queues)}


def _by_queue_filter(vendor: str, template: str) -> dict[str, str]:
    return {shape: template.format(queue_filter=sql, **_NAMES)
            for shape, sql in _QUEUE_FILTERS[vendor].items()}


# --- claim -----------------------------------------------------------------------------------
# The ids of up to %(limit)s due pending jobs, in claim order (priority, then scheduled_at,
# then age); on PostgreSQL locked, skipping the rows another claim holds.
_PICK = """SELECT id FROM {table}
            WHERE status = '{pending}' AND scheduled_at <= %(now)s {queue_filter}
            ORDER BY priority DESC, scheduled_at, created_at, id
            LIMIT %(limit)s"""

# ``picked``: the ids, evaluated once (ARRAY of a locking subquery in a materialized CTE);
# ``claimed``: their rows, running on %(worker_id)s; the first id is started, the others are
# claimed ahead (started_at NULL).
_CLAIMED_PG = """
    picked AS MATERIALIZED (SELECT ARRAY(""" + _PICK + """ FOR UPDATE SKIP LOCKED) AS ids),
    claimed AS (
        UPDATE {table} AS j
           SET status = '{running}',
               started_at = CASE WHEN j.id = picked.ids[1] THEN %(now)s::timestamptz END,
               heartbeat_at = %(now)s, updated_at = %(now)s, worker_id = %(worker_id)s,
               cancel_requested_at = NULL
          FROM picked
         WHERE j.id = ANY(picked.ids)
     RETURNING j.*)"""

# claim_pg: take up to %(limit)s due jobs in one statement (atomic by itself: autocommit).
CLAIM_PG = _by_queue_filter("postgresql", "WITH" + _CLAIMED_PG + " SELECT * FROM claimed")

# pick_sqlite: the ids to claim (in an IMMEDIATE transaction, which holds the write lock).
PICK_SQLITE = _by_queue_filter("sqlite", _PICK)

# claim_picked_sqlite: the picked rows (%(ids)s, a JSON array), running on %(worker_id)s;
# %(first)s is started.
CLAIM_PICKED_SQLITE = """
    UPDATE {table}
       SET status = '{running}', started_at = CASE WHEN id = %(first)s THEN %(now)s END,
           heartbeat_at = %(now)s, updated_at = %(now)s, worker_id = %(worker_id)s,
           cancel_requested_at = NULL
     WHERE id IN (SELECT value FROM json_each(%(ids)s))
 RETURNING *""".format(**_NAMES)

# claim_by_id: take and start one given pending job (the Celery task, the one-job commands).
CLAIM_BY_ID = """
    UPDATE {table}
       SET status = '{running}', started_at = %(now)s, heartbeat_at = %(now)s,
           updated_at = %(now)s, worker_id = %(worker_id)s, cancel_requested_at = NULL
     WHERE id = %(id)s AND status = '{pending}'
 RETURNING *""".format(**_NAMES)

# --- a runner's statement between two jobs (PostgreSQL) --------------------------------------
# finish_and_start_pg(successes, start): the ``successes`` rows (%(id_N)s, %(result_N)s,
# %(finished_at_N)s, %(started_at_N)s for N = 0, 1, …) of executions of %(worker_id)s still
# running (since their started_at, when known) marked succeeded, and, with ``start``, the job
# %(start_id)s (claimed ahead) started. Returns (id, start, cancel_requested_at) per row
# written. A VALUES list of parameters (not arrays: adapting those costs the worker more CPU
# than the statement), so one text per number of rows: almost always 1 or 2.
#
# The start writes started_at only: like a heartbeat it leaves updated_at (set by the claim)
# and every other indexed column alone, so PostgreSQL updates the row in place (HOT) without
# touching the table's indexes.
_FINISH_AND_START_PG = """
    UPDATE {table} AS j
       SET status = CASE WHEN v.start THEN j.status ELSE '{succeeded}' END,
           progress = CASE WHEN v.start THEN j.progress ELSE 100 END,
           result = CASE WHEN v.start THEN j.result ELSE v.result END,
           finished_at = CASE WHEN v.start THEN j.finished_at ELSE v.finished_at END,
           error = CASE WHEN v.start THEN j.error ELSE '' END,
           started_at = CASE WHEN v.start THEN %(now)s ELSE j.started_at END,
           updated_at = CASE WHEN v.start THEN j.updated_at ELSE %(now)s END
      FROM (VALUES {rows}) AS v(id, result, finished_at, started_at, start)
     WHERE j.id = v.id AND j.status = '{running}' AND j.worker_id = %(worker_id)s
       AND CASE WHEN v.start THEN j.started_at IS NULL
                ELSE v.started_at IS NULL OR j.started_at = v.started_at END
 RETURNING j.id, v.start, j.cancel_requested_at"""
_SUCCESS_ROW = ("(%(id_{n})s::uuid, %(result_{n})s::jsonb, %(finished_at_{n})s::timestamptz, "
                "%(started_at_{n})s::timestamptz, false)")
_START_ROW = "(%(start_id)s::uuid, NULL::jsonb, NULL::timestamptz, NULL::timestamptz, true)"


@functools.cache
def finish_and_start_pg(successes: int, start: bool) -> str:
    rows = [_SUCCESS_ROW.format(n=n) for n in range(successes)] + ([_START_ROW] if start else [])
    return _FINISH_AND_START_PG.format(rows=", ".join(rows), **_NAMES)


# finish_and_claim_pg(shape, successes): the successes written (as above) and up to %(limit)s
# jobs claimed (as claim_pg), in one statement: data-modifying CTEs on disjoint rows (ours are
# running, the claimed ones pending). The LEFT JOIN yields one row even when nothing is
# claimed, to carry done_ids, the ids written as succeeded.
@functools.cache
def finish_and_claim_pg(shape: str, successes: int) -> str:
    done = finish_and_start_pg(successes, False).replace("{", "{{").replace("}", "}}")
    return _by_queue_filter("postgresql", "WITH done AS (" + done + ")," + _CLAIMED_PG + """
        SELECT claimed.*, ARRAY(SELECT id FROM done) AS done_ids
          FROM (SELECT 1) AS one LEFT JOIN claimed ON true""")[shape]


# --- reaping (PostgreSQL) --------------------------------------------------------------------
# enter_janitor_transaction_pg: the session's two limits as they were, then both set to
# %(limit)s for this transaction only.
ENTER_JANITOR_TRANSACTION_PG = """
    SELECT current_setting('idle_in_transaction_session_timeout'),
           current_setting('lock_timeout'),
           set_config('idle_in_transaction_session_timeout', %(limit)s, true),
           set_config('lock_timeout', %(limit)s, true)"""

# restore_janitor_settings_pg: put them back (a janitor transaction nested in another).
RESTORE_JANITOR_SETTINGS_PG = """
    SELECT set_config('idle_in_transaction_session_timeout', %(idle_in_transaction)s, true),
           set_config('lock_timeout', %(lock)s, true)"""

# try_reaper_lock_pg: the reapers' transaction-level advisory lock, if no one holds it.
TRY_REAPER_LOCK_PG = "SELECT pg_try_advisory_xact_lock(%(key)s)"

# --- waking the native workers (PostgreSQL) --------------------------------------------------
# notify_pg: delivered at commit, so a worker never wakes before the row exists.
NOTIFY_PG = "SELECT pg_notify('{channel}', %(queue)s)".format(**_NAMES)
LISTEN_PG = "LISTEN {channel}".format(**_NAMES)
