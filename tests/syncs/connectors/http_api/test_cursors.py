"""The incremental cursor: formats, the latest value of a page, and what each ``order`` keeps,
stops at and checkpoints."""

from __future__ import annotations

import pytest

from syncs.connectors.http_api.cursors import (
    IncrementalCursor,
    cursor_key,
    format_cursor,
    later,
    latest,
)


def test_formats_and_an_unknown_format():
    assert format_cursor("2026-01-05T10:00:00-05:00", "iso8601") == "2026-01-05T15:00:00Z"
    assert format_cursor(1767225600, "iso8601_ms") == "2026-01-01T00:00:00.000Z"
    assert format_cursor("2026-01-01", "epoch_s") == 1767225600
    assert format_cursor("not a date", "iso8601") == "not a date"
    assert format_cursor("2026-01-01", None) == "2026-01-01"
    with pytest.raises(ValueError, match="unknown cursor_format 'rfc822'"):
        format_cursor("2026-01-01", "rfc822")


def test_values_compare_as_instants():
    assert later("2026-01-01T10:00:00+02:00", "2026-01-01T09:00:00Z") == "2026-01-01T09:00:00Z"
    assert later(None, 5) == 5 and later(5, None) == 5
    assert later("1767225600000", "1767225600") == "1767225600000"  # numbers as numbers
    assert cursor_key("abc") > cursor_key(10**12)  # non-dates after dates


@pytest.mark.parametrize(("values", "expected"), [
    (["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", None, "2026-01-01T00:00:00Z"],
     "2026-01-03T00:00:00Z"),
    # mixed widths and offsets: compared as instants, not as text
    (["2026-01-02T00:00:00.5Z", "2026-01-02T00:00:00Z", "2026-01-02T01:00:00+02:00"],
     "2026-01-02T00:00:00.5Z"),
    (["2026-01-02T09:00:00+05:00", "2026-01-02T05:00:00Z"], "2026-01-02T05:00:00Z"),
    ([3, 10, 2], 10),
    ([None, None], None),
])
def test_latest_of_a_page(values, expected):
    assert latest(values) == expected


def rows(*stamps):
    return [{"id": i, "at": s} for i, s in enumerate(stamps)]


def test_asc_checkpoints_the_running_maximum():
    cursor = IncrementalCursor(field="at", cursor="2026-01-01T00:00:00Z")
    kept, stop = cursor.page(rows("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"))
    assert len(kept) == 2 and not stop  # no client filter: the API filtered
    assert cursor.batch_cursor() == "2026-01-03T00:00:00Z"
    assert not cursor.needs_final_checkpoint()


def test_desc_stops_at_the_checkpoint_and_writes_it_at_the_end():
    cursor = IncrementalCursor(field="at", cursor="2026-01-02T00:00:00Z", order="desc")
    kept, stop = cursor.page(rows("2026-01-04T00:00:00Z", "2026-01-03T00:00:00Z"))
    assert len(kept) == 2 and not stop
    assert cursor.batch_cursor() == "2026-01-02T00:00:00Z"  # not before the stream is read
    kept, stop = cursor.page(rows("2026-01-02T12:00:00Z", "2026-01-02T00:00:00Z",
                                  "2026-01-01T00:00:00Z"))
    assert [r["at"] for r in kept] == ["2026-01-02T12:00:00Z"] and stop
    assert cursor.needs_final_checkpoint() and cursor.reached == "2026-01-04T00:00:00Z"


def test_first_run_start_date_is_inclusive_and_the_window_end_exclusive():
    cursor = IncrementalCursor(field="at", client_filter=True, start_date="2026-01-02",
                               window=("2026-01-02", "2026-01-03"))
    kept, _ = cursor.page(rows("2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z",
                               "2026-01-02T23:59:59Z", "2026-01-03T00:00:00Z", None))
    assert [r["at"] for r in kept] == ["2026-01-02T00:00:00Z", "2026-01-02T23:59:59Z", None]


def test_unordered_checkpoints_once_read_and_client_filter_drops_old_records():
    stream = {"cursor_field": "at", "order": "unordered", "client_filter": True}
    cursor = IncrementalCursor.for_stream(stream, "2026-01-02T00:00:00Z", None)
    kept, stop = cursor.page(rows("2026-01-03T00:00:00Z", "2026-01-02T00:00:00Z",
                                  "2026-01-05T00:00:00Z"))
    assert [r["id"] for r in kept] == [0, 2] and not stop  # the checkpoint itself is old
    assert cursor.batch_cursor() == "2026-01-02T00:00:00Z"
    assert cursor.needs_final_checkpoint() and cursor.reached == "2026-01-05T00:00:00Z"


def reference(values, floor, inclusive, end):
    from syncs.connectors.http_api.cursors import past

    return [v for v in values if past(v, floor, inclusive=inclusive)
            and (end is None or v is None or cursor_key(v) < cursor_key(end))]


@pytest.mark.parametrize("values", [
    ["2026-01-02T00:00:00Z", "2026-01-01T23:59:59Z", None, "2026-01-03T00:00:00Z"],
    ["2026-01-02T00:00:00.000Z", "2026-01-02T00:00:00.500Z", "2026-01-01T00:00:00.999Z"],
    ["2026-01-02T00:00:00.000000Z", "2026-01-02T00:00:00.000001Z"],
    ["2026-01-02T00:00:00Z", "2026-01-02T00:00:00.5Z"],  # mixed widths: parsed
    ["2026-01-02T01:00:00+01:00", "2026-01-02T00:00:01Z"],  # offsets: parsed
])
@pytest.mark.parametrize("floor", ["2026-01-02T00:00:00Z", "2026-01-02", "2026-01-02T00:00:00.5Z",
                                   "2026-01-02T00:00:00.000001Z", 1767312000,
                                   "2026-01-02T01:00:00+01:00"])
@pytest.mark.parametrize("checkpoint", [True, False])
@pytest.mark.parametrize("end", [None, "2026-01-02T12:00:00Z", "2026-01-02T00:00:00.5Z"])
def test_the_text_comparison_agrees_with_parsing(values, floor, checkpoint, end):
    window = ("2026-01-01", end) if end else None
    cursor = IncrementalCursor(field="at", cursor=floor if checkpoint else None,
                               window=window, client_filter=True,
                               start_date=None if checkpoint else floor)
    if not checkpoint and window:
        cursor.floor = floor  # the window's start is the floor otherwise
    kept, _ = cursor.page([{"at": v} for v in values])
    assert [r["at"] for r in kept] == reference(values, floor, not checkpoint, end)
