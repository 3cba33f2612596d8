"""Reading a ``COPY ... TO STDOUT`` in batches of rows (PostgreSQL), for the fast paths.

The COPY runs on a connection of its own: a COPY holds its connection until it ends, and the
export job writes its progress between batches on the shared one; so it sees committed rows
only. Inside a transaction (the caller's, e.g. a test's) it must see that transaction's rows:
there it runs on the shared connection and is read whole before the first batch is handed on
(the caller's writes between batches would otherwise interrupt it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from django.db import connections

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
    with cursor.cursor.copy(sql, params) as copy:
        # Copied into one buffer at once: holding thousands of the driver's row buffers costs
        # about 1 µs of CPU per row more.
        data, sizes = bytearray(), []
        for row in copy:  # one row per message, ending with "\n"
            data += row
            sizes.append(len(row))
            if len(sizes) >= batch_size:
                yield decode(data, sizes)
                data, sizes = bytearray(), []
        if sizes:
            yield decode(data, sizes)
