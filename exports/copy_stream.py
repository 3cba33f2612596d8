"""Reading a ``COPY ... TO STDOUT`` in batches of rows (PostgreSQL), for the fast paths.

The COPY runs on a connection of its own: a COPY holds its connection until it ends, and the
export job writes its progress between batches on the shared one; so it sees committed rows
only. Inside a transaction (the caller's, e.g. a test's) it must see that transaction's rows:
there it runs on the shared connection and is read whole before the first batch is handed on
(the caller's writes between batches would otherwise interrupt it)."""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from django.db import connections
from psycopg import errors, pq

Batch = TypeVar("Batch")

# Per statement, so SET LOCAL inside the caller's transaction and SET on our own connection.
_SETTINGS = [
    # JIT would spend seconds compiling the formatting expressions of a big scan.
    "jit = off",
    # Shortest round-trip float output (what Python's repr prints).
    "extra_float_digits = 1",
    # The formatting expressions cost far more than the planner's default estimate: let it use
    # parallel workers (within the server's max_parallel_workers_per_gather) for any table
    # big enough for them; Gather Merge keeps the order.
    "parallel_setup_cost = 0",
    "parallel_tuple_cost = 0",
    # The leader sends every row to the client: when it also scans and formats rows, the
    # workers wait on their full queues (a CSV of 1M rows: 1.75 s against 2.2 s, server only).
    "parallel_leader_participation = off",
]


@contextmanager
def _copy_connection(using: str):
    shared = connections[using]
    if shared.in_atomic_block:
        yield shared, "SET LOCAL", True
        return
    own = connections.create_connection(using)
    try:
        yield own, "SET", False
    finally:
        own.close()


def copy_batches(using: str, sql: str, params: Sequence, batch_size: int,
                 decode: Callable[[bytearray, list[int]], Batch]) -> Iterator[Batch]:
    """``decode(data, sizes)`` of each ``batch_size`` rows of the COPY ``sql``: ``data`` is
    the rows' bytes as COPY sent them, one row per message, ``sizes`` each row's length."""
    with _copy_connection(using) as (connection, set_command, buffered):
        with connection.cursor() as cursor:
            for setting in _SETTINGS:
                cursor.execute(f"{set_command} {setting}")
            batches = _read(cursor, sql, params, batch_size, decode)
            if buffered:
                batches = iter(list(batches))
            yield from batches


def _read(cursor, sql: str, params: Sequence, batch_size: int,
          decode: Callable[[bytearray, list[int]], Batch]) -> Iterator[Batch]:
    # The driver's own cursor: Django's debug wrapper takes no COPY parameters.
    driver = cursor.cursor
    with driver.copy(sql, params):
        # Copied into one buffer at once: holding thousands of the driver's row buffers costs
        # about 1 µs of CPU per row more.
        data, sizes = bytearray(), []
        for row in _rows(driver.connection):  # one row per message, ending with "\n"
            data += row
            sizes.append(len(row))
            if len(sizes) >= batch_size:
                yield decode(data, sizes)
                data, sizes = bytearray(), []
        if sizes:
            yield decode(data, sizes)


def _rows(connection) -> Iterator[memoryview]:
    """The rows of the COPY TO in progress on the psycopg ``connection``, each as libpq hands
    it over, then its result (an error raised).

    Read with libpq's own calls (``psycopg.pq``): the rows libpq has buffered are taken at
    once (``get_copy_data`` without waiting), and the socket is waited on (the GIL released)
    only when it has none. ``Copy.read`` drives a generator through the connection's wait
    for every row: 0.25 s more client CPU per million rows, and a slower client makes the
    server wait (measured on 1M rows of CSV: 2.62 s against 2.80 s, median of 5). psycopg's
    ``Copy`` still starts the COPY and, if the reading stops early (a cancelled export),
    cancels it and drains what is left."""
    pgconn = connection.pgconn
    readable = select.poll()
    readable.register(pgconn.socket, select.POLLIN)
    take = pgconn.get_copy_data
    while True:
        size, row = take(1)  # (1: do not wait)
        if size > 0:
            yield row
        elif size == 0:  # nothing buffered: wait for the server
            readable.poll()
            pgconn.consume_input()
        else:  # -1: the COPY ended; its result follows
            break
    while pgconn.is_busy():
        readable.poll()
        pgconn.consume_input()
    error = None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK and error is None:
            error = errors.error_from_result(result, encoding=connection.info.encoding)
    if error is not None:
        raise error
