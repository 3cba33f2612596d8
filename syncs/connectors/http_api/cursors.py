"""Incremental cursors: parsing and rendering cursor values (``format_cursor``), comparing them
as instants (``cursor_key``, ``later``), and ``IncrementalCursor``, which applies a stream's
``order``/``client_filter``/window to each page and tracks the cursor reached.

The hot path is per page: the page's latest cursor value is found with one ``max``, and UTC
ISO 8601 timestamps of one width (the common case) compare as text, without parsing each."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")
#: Fixed-width UTC timestamps: of one width, text order is time order.
_UTC_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def parse_instant(value: Any) -> datetime | None:
    """A datetime from ISO 8601 text, a date, or epoch seconds/milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        moment = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
    else:
        text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
        text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", text)  # +0000 -> +00:00
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_FORMATS: dict[str, Callable[[datetime], Any]] = {
    "iso8601": lambda utc: utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "iso8601_ms": lambda utc: utc.strftime("%Y-%m-%dT%H:%M:%S.")
    + f"{utc.microsecond // 1000:03d}Z",
    "iso8601_offset": lambda utc: utc.isoformat(timespec="seconds"),
    "epoch_ms": lambda utc: int(utc.timestamp() * 1000),
    "epoch_s": lambda utc: int(utc.timestamp()),
    "date": lambda utc: utc.date().isoformat(),
}


def format_cursor(value: Any, fmt: str | None) -> Any:
    """Render a cursor value the way an API filter expects it."""
    if value is None or not fmt or fmt == "raw":
        return value
    render = _FORMATS.get(fmt)
    moment = parse_instant(value)
    if moment is None:
        return value
    if render is None:
        raise ValueError(f"unknown cursor_format {fmt!r}")
    return render(moment.astimezone(UTC))


def cursor_key(value: Any) -> Any:
    """A comparable form of a cursor value (datetimes compare as instants)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, str) and value.isdigit():
        return (0, float(value))
    moment = parse_instant(value) if isinstance(value, str) else None
    if moment is not None:
        return (0, moment.timestamp())
    return (1, str(value))


def later(a: Any, b: Any) -> Any:
    """The later of two cursor values (None-safe)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if cursor_key(b) > cursor_key(a) else a


def latest(values: list) -> Any:
    """The latest of a page's cursor values (None when there is none), in one pass."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, str) and _UTC_ISO.fullmatch(first):
        width = len(first)
        if all(isinstance(v, str) and len(v) == width and _UTC_ISO.fullmatch(v)
               for v in present):
            return max(present)
    return max(present, key=cursor_key)


def past(value: Any, floor: Any, *, inclusive: bool) -> bool:
    """A record's cursor value is past the checkpoint (at or after a start date)."""
    if value is None:
        return True
    return cursor_key(value) > cursor_key(floor) or (
        inclusive and cursor_key(value) == cursor_key(floor))


def _utc_text_width(values: list) -> int | None:
    """The width shared by every value but None, when all are fixed-width UTC timestamps."""
    width = None
    for value in values:
        if value is None:
            continue
        if not isinstance(value, str) or (width is not None and len(value) != width) \
                or not _UTC_ISO.fullmatch(value):
            return None
        width = len(value)
    return width


def _as_utc_text(bound: Any, width: int) -> str | None:
    """``bound`` as a UTC timestamp text of ``width`` characters; None unless exact."""
    moment = parse_instant(bound)
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    digits = width - len("2026-01-01T00:00:00.Z")
    fraction = f"{utc.microsecond:06d}"
    if width == len("2026-01-01T00:00:00Z"):
        return None if utc.microsecond else utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if digits <= 0 or fraction[digits:].strip("0"):
        return None
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction[:digits].ljust(digits, '0')}Z"


@dataclass
class IncrementalCursor:
    """One read of a stream: which records of each page to keep, when to stop paging and the
    cursor each batch checkpoints.

    ``order``: asc (the batch cursor is the running maximum), desc (newest first: paging
    stops at the checkpoint), unordered (the cursor is checkpointed once the stream is read).
    """

    field: str | None
    cursor: Any = None
    window: tuple | None = None
    order: str = "asc"
    client_filter: bool = False
    start_date: Any = None
    reached: Any = field(init=False)
    floor: Any = field(init=False)

    def __post_init__(self) -> None:
        self.reached = self.cursor
        self.floor = self.cursor if self.cursor is not None else (
            self.window[0] if self.window else self.start_date)

    @classmethod
    def for_stream(cls, stream: dict, cursor: Any, window: tuple | None) -> IncrementalCursor:
        return cls(field=stream.get("cursor_field"), cursor=cursor, window=window,
                   order=stream.get("order", "asc"),
                   client_filter=bool(stream.get("client_filter")),
                   start_date=stream.get("start_date"))

    def filters(self) -> bool:
        return bool(self.field and self.floor is not None
                    and (self.order == "desc" or self.client_filter))

    def page(self, records: list[dict]) -> tuple[list[dict], bool]:
        """(the page's records to keep, whether paging stops here); advances ``reached``."""
        stop = False
        name = self.field
        if name and self.filters():
            values = [r.get(name) for r in records]
            after = self._past_floor(values)
            stop = self.order == "desc" and not all(after)
            before = self._before_end(values)
            records = [r for r, a, b in zip(records, after, before, strict=True) if a and b]
        if name and records:
            self.reached = later(self.reached, latest([r.get(name) for r in records]))
        return records, stop

    def _bounds_as_text(self, values: list) -> tuple[str, str | None] | None:
        """(floor, window end) as text comparable with ``values``, when every value is a UTC
        timestamp of one width and the bounds render exactly in it (one regex per value
        instead of parsing each)."""
        width = _utc_text_width(values)
        floor = _as_utc_text(self.floor, width) if width else None
        end = _as_utc_text(self.window[1], width) if width and self.window else None
        if floor is None or (self.window is not None and end is None):
            return None
        return floor, end

    def _past_floor(self, values: list) -> list[bool]:
        inclusive = self.cursor is None  # a start date is included, a checkpoint is not
        text = self._bounds_as_text(values)
        if text is not None:
            floor = text[0]
            return [v is None or v > floor or (inclusive and v == floor) for v in values]
        return [past(v, self.floor, inclusive=inclusive) for v in values]

    def _before_end(self, values: list) -> list[bool]:
        if self.window is None:
            return [True] * len(values)
        text = self._bounds_as_text(values)
        if text is not None:
            return [v is None or v < text[1] for v in values]
        end = cursor_key(self.window[1])
        return [v is None or cursor_key(v) < end for v in values]

    def batch_cursor(self) -> Any:
        """The cursor a batch of records checkpoints (only asc advances it as it goes)."""
        return self.reached if self.order == "asc" else self.cursor

    def needs_final_checkpoint(self) -> bool:
        """After the whole stream: ``reached`` is still to checkpoint (desc, unordered)."""
        return self.order != "asc" and self.reached != self.cursor
