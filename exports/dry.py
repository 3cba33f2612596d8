"""``dry_data`` exports: no ids, no timestamps, no blank values. One rule for both paths: the
Python path drops them from each row dict (``dry_row``), the COPY fast path leaves the
columns out of its SELECT (``keeps_column``) and writes a blank value as a missing key (JSON)
or an empty cell (CSV, Parquet)."""

from __future__ import annotations

from collections.abc import Sequence

_TIMESTAMPS = frozenset({"created_at", "updated_at"})


def keeps_column(name: str) -> bool:
    """Whether a dry export keeps the column ``name``: not an id, a foreign key or a
    creation/update timestamp."""
    return name != "id" and not name.endswith("_id") and name not in _TIMESTAMPS


def dry_columns(columns: Sequence[str]) -> list[str]:
    return [name for name in columns if keeps_column(name)]


def dry_row(row: dict) -> dict:
    """The row without ids, timestamps and blank values (None, "", [], {})."""
    return {key: value for key, value in row.items()
            if keeps_column(key) and value not in (None, "", [], {})}
