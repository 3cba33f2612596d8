"""A column's values formatted by the SELECT itself, on PostgreSQL. Each function returns a
SQL expression (text, or NULL for an empty cell); none of them contains "%".

- ``sql_api``: the Python path's SELECT, the API's text for the types whose API value is a
  string (the text Python would write, checked by the tests, at half the cost).
- ``sql_csv``: the CSV fast path's ``COPY (SELECT ...)``, printing what ``CsvWriter`` prints
  for the Python path's value of the column, so both paths give the same bytes. Known
  differences, all rare:

  - JSON objects/arrays: numbers *inside* them keep the text PostgreSQL stores (``12.50``,
    ``0.0000001``), where the Python path goes through a float (``12.5``, ``1e-7``); integers
    beyond 64 bits make ``orjson`` (the Python path) fail while COPY writes them. Top-level JSON
    numbers, strings, booleans and nulls are identical.
  - ``json`` (not ``jsonb``) columns are read as ``jsonb`` on both paths: keys in jsonb order,
    duplicate keys collapsed (the last wins, as ``json.loads`` does).
  - A one-column row whose value is ``\\.`` is quoted by COPY (its end-of-data marker).
  - Values Python cannot represent: timestamps ``infinity`` give an empty cell, BC dates and
    years beyond 9999 are written by ``to_char`` (``4713-01-01``, ``12000-01-01``) on both paths
    (the driver could not load them); a top-level JSON number beyond the float range fails COPY.
  - Floats: the fast path's connection sets ``extra_float_digits = 1`` (shortest round-trip
    output, what Python's ``repr`` prints); the Python path reads floats through the driver's
    text, exact unless the server sets ``extra_float_digits <= 0`` (not the default).
"""

from __future__ import annotations

from django.conf import settings

from exports.tables.introspection import TableColumn

_TS_US = 'YYYY-MM-DD"T"HH24:MI:SS.US'
_BIG = "9007199254740992"  # 2**53: from here on every float8 is an integer
_MAX = "1.7976931348623157e308"  # the largest float8, as a numeric


def _sql_fixed(text: str) -> str:
    """Python's fixed notation of a float printed by PostgreSQL as ``text``."""
    fixed = f"(({text})::numeric)::text"
    return f"(CASE WHEN strpos({fixed}, '.') > 0 THEN {fixed} ELSE {fixed} || '.0' END)"


def _sql_small_float(text: str) -> str:
    """``repr(float(text))`` for PostgreSQL's shortest round-trip float output ``text``."""
    exponent = f"split_part({text}, 'e', 2)::int"
    return (f"(CASE WHEN {text} = 'NaN' THEN 'nan' WHEN {text} = 'Infinity' THEN 'inf' "
            f"WHEN {text} = '-Infinity' THEN '-inf' "
            f"WHEN strpos({text}, 'e') > 0 THEN (CASE WHEN {exponent} BETWEEN -4 AND 15 "
            f"THEN {_sql_fixed(text)} ELSE {text} END) "
            f"WHEN strpos({text}, '.') > 0 THEN {text} ELSE {text} || '.0' END)")


def _sql_big_float(value: str) -> str:
    """``repr(value)`` for a float8 of magnitude >= 2**53 (an integer): PostgreSQL prints its
    exact digits, Python the shortest that round-trip, found here among 15 and 16 digits.
    Written out in full, without subqueries: a subquery in the SELECT list would keep
    PostgreSQL from computing the expressions in parallel workers (only such values run it)."""
    number = f"(({value})::text)::numeric"
    exponent = f"(length(trunc(abs({number}))::text) - 1)"

    def rounded(digits: int) -> str:
        return f"round({number}, {digits - 1} - {exponent})"

    def trips(candidate: str) -> str:  # (a candidate past the largest float8 never does)
        return (f"CASE WHEN abs({candidate}) <= {_MAX} THEN ({candidate})::float8 = {value} "
                "END")

    shortest = (f"(CASE WHEN {trips(rounded(15))} THEN {rounded(15)} "
                f"WHEN {trips(rounded(16))} THEN {rounded(16)} ELSE {number} END)")
    return (f"(CASE WHEN length(trunc(abs({shortest}))::text) < 17 "
            f"THEN trunc({shortest})::text || '.0' "
            f"ELSE regexp_replace(btrim(to_char({shortest}, '9.9999999999999999EEEE')), "
            f"'\\.?0+e', 'e') END)")


def _sql_float(value: str, sql_type: str | None) -> str:
    if sql_type == "real":  # at most 9 digits: Python's repr of the parsed text has the same
        return _sql_small_float(f"({value})::text")
    double = f"({value})::float8"
    # (PostgreSQL sorts NaN above every number, and NaN = NaN)
    return (f"(CASE WHEN abs({double}) >= {_BIG} AND abs({double}) <> 'Infinity'::float8 "
            f"AND {double} <> 'NaN'::float8 THEN {_sql_big_float(double)} "
            f"ELSE {_sql_small_float(f'({double})::text')} END)")


# jsonb::text puts one space after each ":" and ","; orjson writes none. json_strip_nulls
# re-writes JSON compactly (same escapes as jsonb::text) but drops object members that are null,
# so it serves only when the text has no ": null"; else dropping those spaces blindly is right
# unless a string had ", " or ": " in it (then the result no longer equals the value); else a
# regular expression that steps over string literals (about 10 times slower than the others).
_JSON_TOKEN = r"""'("(?:[^"\\]|\\.)*"|[^" ]+) ?'"""


def _as_jsonb(quoted: str, sql_type: str | None) -> str:
    """A JSON column as jsonb (a ``json`` column is read as ``jsonb`` on every path)."""
    return quoted if sql_type == "jsonb" else f"CAST({quoted} AS jsonb)"


def _sql_json(quoted: str, sql_type: str | None, parquet: bool = False) -> str:
    value = _as_jsonb(quoted, sql_type)
    text = f"({value})::text"
    if parquet:
        # A Parquet cell of a JSON object or array holds jsonb's own text ({"a": 1}, where
        # the Python path writes {"a":1}): the same JSON value, as the JSON fast path embeds
        # it. Compacting it exactly costs about 0.8 s of server time per million values,
        # most of the Parquet export's; the CSV path keeps it (there bytes are compared).
        compact = text
    else:
        blind = f"replace(replace({text}, ', ', ','), ': ', ':')"
        compact = (f"(CASE WHEN strpos({text}, ': null') = 0 THEN "
                   f"json_strip_nulls(to_json({value}))::text WHEN ({blind})::jsonb = {value} "
                   f"THEN {blind} ELSE regexp_replace({text}, {_JSON_TOKEN}, '\\1', 'g') END)")
    string = f"({value} #>> '{{}}')" if parquet else f"NULLIF({value} #>> '{{}}', '')"
    number = (f"(CASE WHEN strpos({text}, '.') > 0 THEN {_sql_float(text, None)} "
              f"ELSE {text} END)")
    return (f"(CASE jsonb_typeof({value}) WHEN 'object' THEN {compact} "
            f"WHEN 'array' THEN {compact} WHEN 'string' THEN {string} "
            f"WHEN 'boolean' THEN {text} WHEN 'number' THEN {number} END)")


def _sql_datetime(value: str, pattern: str = _TS_US) -> str:
    # isoformat() leaves out a zero fraction; ".000000" cannot occur elsewhere in the text.
    return f"replace(to_char({value}, '{pattern}'), '.000000', '')"


def sql_api(column: TableColumn, quoted: str) -> str:
    """The Python path's SELECT expression on PostgreSQL: the API's text for the types whose
    API value is a string (cheaper than converting the driver's objects in Python, and the same
    text), JSON as text (parsed in Python), numbers and booleans as they are."""
    kind = column.kind
    if kind in ("date", "time", "datetime"):
        return sql_csv(column, quoted)
    if kind in ("uuid", "decimal", "other"):
        return f"CAST({quoted} AS text)"
    if kind == "json":
        return f"CAST(CAST({quoted} AS jsonb) AS text)"
    return quoted


def sql_csv(column: TableColumn, quoted: str, parquet: bool = False) -> str:
    """The cell's text as ``CsvWriter`` writes it (an empty text is NULL, an empty cell: CSV
    writes both alike); with ``parquet``, as ``ParquetWriter`` stores it: NULL only for a null
    value, JSON objects and arrays as jsonb prints them (see ``_sql_json``)."""
    kind, sql_type = column.kind, column.sql_type
    if kind in ("int", "decimal", "uuid"):
        return quoted  # COPY prints them as Python does (Decimal via format(v, "f"))
    if kind == "bool":
        return f"({quoted})::text"
    if kind == "float":
        return _sql_float(quoted, sql_type)
    if kind == "date":
        return f"to_char({quoted}, 'YYYY-MM-DD')"
    if kind == "time":
        return _sql_datetime(f"(DATE '2000-01-01' + {quoted})", "HH24:MI:SS.US")
    if kind == "datetime":
        # (a fixed offset: no time zone lookup per row)
        utc = (f"({quoted} AT TIME ZONE INTERVAL '+00:00')" if sql_type == "timestamptz"
               else quoted)
        suffix = " || 'Z'" if settings.USE_TZ else ""
        return f"({_sql_datetime(utc)}{suffix})"
    if kind == "json":
        return _sql_json(quoted, sql_type, parquet)
    text = quoted if kind == "text" else f"CAST({quoted} AS text)"
    if parquet:
        return text
    return _non_empty(text)


def _non_empty(text: str) -> str:
    """``text``, NULL when empty. By octet_length, not = '': a blank-padded char(n) of
    spaces is not empty, but equals '' (and a cast to text trims it)."""
    return f"(CASE WHEN octet_length({text}) > 0 THEN {text} END)"


def sql_json(column: TableColumn, quoted: str, dry: bool = False) -> str:
    """The JSON text of the column's value in a row of the JSON fast path, equal as a value to
    what ``JsonLinesWriter`` writes for the Python path's: the API's text for datetimes,
    dates, times, uuids, decimals and other types as JSON strings, JSON values embedded (as
    ``jsonb`` prints them: a space after ":" and ","), numbers, booleans and texts as they
    are; NaN and infinities null (as orjson writes them). ``'null'`` for a null value; with
    ``dry`` (``exports.dry``), SQL NULL for a blank one (null, "", [], {}): the key is left out.

    Built as text, not by ``row_to_json`` over a subquery: that function runs above the
    parallel scan, in the one backend that also sends the rows, and cost 0.8 s per million
    rows; plain text expressions are evaluated inside the scan (in parallel workers when the
    planner uses them) and cost about half as much."""
    kind, sql_type = column.kind, column.sql_type
    if kind == "json":
        value = _as_jsonb(quoted, sql_type)
        if dry:  # (jsonb prints each of these one way only)
            return f"NULLIF(NULLIF(NULLIF(NULLIF(({value})::text, 'null'), '\"\"'), '[]'), '{{}}')"
        return f"COALESCE(({value})::text, 'null')"
    if kind == "float":
        nan = f"({quoted})::float8 IN ('NaN', 'Infinity', '-Infinity')"
        if dry:  # (NaN is written null, but it is not blank)
            return f"(CASE WHEN {nan} THEN 'null' ELSE ({quoted})::text END)"
        return f"(CASE WHEN {nan} THEN 'null' ELSE COALESCE(({quoted})::text, 'null') END)"
    if kind in ("int", "bool"):
        text = f"({quoted})::text"
    elif kind == "text":
        text = f"to_json({_non_empty(quoted) if dry else quoted})::text"
    elif kind == "other":  # (its text may hold quotes or backslashes)
        cast = f"CAST({quoted} AS text)"
        text = f"to_json({_non_empty(cast) if dry else cast})::text"
    else:  # uuid, decimal, date, time, datetime: texts of digits, letters, "-", ":", ".", " "
        text = f"('\"' || {sql_api(column, quoted)} || '\"')"
    return text if dry else f"COALESCE({text}, 'null')"


def sql_dry_cell(column: TableColumn, quoted: str, cell: str) -> str:
    """A CSV or Parquet ``cell`` of the column (``sql_csv``) in a dry export: NULL (an empty
    cell) for a blank value, as the Python path leaves the key out: "", an empty JSON array
    or object; a null already is."""
    if column.kind == "json":
        value = _as_jsonb(quoted, column.sql_type)
        return (f"(CASE WHEN {value} IN ('[]'::jsonb, '{{}}'::jsonb, '\"\"'::jsonb) THEN NULL "
                f"ELSE {cell} END)")
    if column.kind in ("text", "other"):
        return _non_empty(cell)
    return cell
