"""Record selection and shaping: ``select_records`` finds a page's records in its document (a
``record_selector`` JSON path), ``shape_records`` applies a stream's ``flatten``/``add``/
``drop``/``keep``. A stream without shaping keys costs nothing per record."""

from __future__ import annotations

from typing import Any

from syncs.connectors.http_api.values import fill, select


def select_records(document: Any, selector: str | None) -> list:
    """The records of a page: the list (or single object) at ``selector`` ("$" is the whole
    document)."""
    return select(document, selector)


def shape_records(stream: dict, records: list, values: dict) -> list:
    """Each record flattened (``flatten``: a key whose object is merged in, the record's own
    keys winning), with ``add`` ({field: template}) filled, ``drop`` keys removed and only
    ``keep`` keys kept; a non-object record becomes {"value": ...}."""
    flatten, drop, add = stream.get("flatten"), stream.get("drop"), stream.get("add")
    keep = stream.get("keep")
    if not (flatten or drop or add or keep):
        return records
    shaped = []
    for record in records:
        if not isinstance(record, dict):
            record = {"value": record}
        record = dict(record)
        if flatten and isinstance(record.get(flatten), dict):
            nested = record.pop(flatten)
            record.update((k, v) for k, v in nested.items() if k not in record)
        if add:
            for key, template in add.items():
                record[key] = fill(template, {**values, **record})
        for key in drop or ():
            record.pop(key, None)
        if keep:
            record = {k: record.get(k) for k in keep}
        shaped.append(record)
    return shaped
