"""Reading a source ahead of the loader: the next pages are fetched and parsed while the
previous batch is written.

``read_ahead`` iterates a source's batches in a thread of its own and hands them to the run in
their order. The loader's time is mostly spent waiting on the database (the COPY, the merge,
the commit) and the source's waiting on the API: the two overlap instead of taking turns.
What is read ahead is bounded in rows (``SYNCS_READ_AHEAD_ROWS``), not in batches, so a source
with big batches does not hold more in memory than one with small ones. Batches already read
when the run comes for the next one are merged into one write of at most that many rows (the
cursor of the last one): fewer transactions, each still committing its rows with their
checkpoint, in order (syncs.loading). A batch is never held back to wait for more: a slow
source still has each page written as soon as it arrives.

The reader's error reaches the run after the batches read before it; a run that stops (an
error of its own, a cancel, a stale attempt) stops the reader, which reads at most the page it
is on. The reader's database connections (a source may store a rotated token) are its own and
closed when it ends. Inside a caller's transaction (tests, a shell) another connection could
not see what the caller wrote, so the batches are then read inline, one write per batch.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections

from syncs.connectors import Batch

logger = logging.getLogger("syncs.pipeline")

WAIT_SECONDS = 1.0  # how often a run waiting for the source calls ``on_wait``
JOIN_SECONDS = 5.0  # how long a stopping run waits for the reader to finish its page


class _End:
    """The source has no more batches."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead:
    """Batches of ``source`` read by a thread, at most ``max_rows`` rows ahead of the run."""

    def __init__(self, source: Iterable[Batch], *, max_rows: int,
                 on_wait: Callable[[], None] | None = None) -> None:
        self._source = source
        self.max_rows = max(1, int(max_rows))
        self._on_wait = on_wait
        self._items: deque[Any] = deque()
        self._rows = 0
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._read, name="sync-read-ahead", daemon=True)

    # --- the reader thread ----------------------------------------------------------------------
    def _read(self) -> None:
        batches = iter(self._source)
        try:
            for batch in batches:
                with self._changed:
                    while self._rows >= self.max_rows and not self._stopped:
                        self._changed.wait()
                    if self._stopped:
                        return
                    self._items.append(batch)
                    self._rows += len(batch.records)
                    self._changed.notify_all()
            self._push(_End())
        except BaseException as exc:  # noqa: BLE001 - handed to the run, raised there
            self._push(_Failed(exc))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:  # a generator stopped early: its own cleanup, here
                try:
                    close()
                except Exception:  # noqa: BLE001 - the run has stopped already
                    logger.exception("Closing a source read ahead failed")
            connections.close_all()  # this thread's connections only

    def _push(self, item: Any) -> None:
        with self._changed:
            if not self._stopped:
                self._items.append(item)
                self._changed.notify_all()

    # --- the run's side -------------------------------------------------------------------------
    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reader (it finishes the page it is on) and drop what it read ahead."""
        with self._changed:
            self._stopped = True
            self._items.clear()
            self._rows = 0
            self._changed.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(JOIN_SECONDS)
            if self._thread.is_alive():
                logger.warning("The source read ahead is still on a page; it stops after it")

    def _take(self) -> Any:
        """The next item, waiting for it (``on_wait`` every WAIT_SECONDS meanwhile)."""
        while True:
            with self._changed:
                if self._items:
                    item = self._items.popleft()
                    if isinstance(item, Batch):
                        self._rows -= len(item.records)
                        self._changed.notify_all()
                    return item
                if not self._thread.is_alive():
                    raise RuntimeError("the source's reader ended without a last batch")
                if self._changed.wait(WAIT_SECONDS):
                    continue
            if self._on_wait is not None:
                self._on_wait()  # outside the lock: it may raise (a cancelled run)

    def _take_mergeable(self, rows: int, cursor_known: bool) -> Batch | None:
        """The next batch if it is read already and fits the write being made."""
        with self._changed:
            head = self._items[0] if self._items else None
            if not isinstance(head, Batch) or (head.cursor is not None) != cursor_known or \
                    rows + len(head.records) > self.max_rows:
                return None
            self._items.popleft()
            self._rows -= len(head.records)
            self._changed.notify_all()
            return head

    def __iter__(self) -> Iterator[Batch]:
        while True:
            item = self._take()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            records, cursor = item.records, item.cursor
            # A run of batches with cursors (or one without): the merged write ends where the
            # last of them would have left the checkpoint.
            while (more := self._take_mergeable(len(records), cursor is not None)) is not None:
                if records is item.records:
                    records = list(records)
                records.extend(more.records)
                cursor = more.cursor
            yield item if records is item.records else Batch(records=records, cursor=cursor)


def reads_inline(*aliases: str) -> bool:
    """True when the batches must be read in the caller's thread: read-ahead is off, or a
    database the source or the loader uses is inside a transaction another connection could
    not see into."""
    return settings.SYNCS_READ_AHEAD_ROWS <= 0 or any(
        connections[alias].in_atomic_block for alias in aliases)


@contextmanager
def read_ahead(source: Iterable[Batch], *, using: Iterable[str],
               on_wait: Callable[[], None] | None = None) -> Iterator[Iterable[Batch]]:
    """The batches of ``source``, read ahead in a thread unless ``reads_inline(*using)``."""
    if reads_inline(*using):
        yield source
        return
    with ReadAhead(source, max_rows=settings.SYNCS_READ_AHEAD_ROWS, on_wait=on_wait) as batches:
        yield batches
