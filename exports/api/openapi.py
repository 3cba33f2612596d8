"""What the exports API's actions document beyond their views (``syncservice.openapi``)."""

from __future__ import annotations

from exports.formats import FORMATS, GZIP_MIME_TYPE, MODALITIES
from jobs.api.openapi import job_links
from syncservice.openapi import documents
from syncservice.openapi.operations import (
    OperationSpec,
    Schema,
    comma_items,
    data_response,
    link,
    query_parameter,
)

EXPORT_NAMES = (
    "`resource_type` names an exportable resource: `jobs`, `exports`, `projects`, or the "
    "logical name of a table the project's syncs load (which ones exist depends on the "
    "project); `fields`, `includes` and `filters` use that resource's names. Other names are "
    "a 422 naming the member.")

_EXPORT_EXAMPLE = {"attributes": {"resource_type": "jobs", "format": "csv",
                                  "filters": {"status__in": "failed,succeeded"},
                                  "fields": ["job_class", "status"]}}


def _export_links() -> dict[str, Schema]:
    return {
        "GetExport": link("exports_retrieve", "The export (poll until `success`)."),
        "DownloadExport": link("exports_download", "Its file, once the export succeeded."),
        "DeleteExport": link("exports_destroy", "Delete the export and its files."),
        **job_links("/data/relationships/job/data/id"),
    }


def _download_responses(auto_schema) -> dict[str, Schema]:
    mime_types = sorted({f.mime_type for f in FORMATS.values()} | {GZIP_MIME_TYPE})
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "200": {
            "description": "The file, as an attachment (local storage).",
            "headers": {
                "Content-Disposition": {"schema": {"type": "string"}},
                "X-Checksum-SHA256": {"schema": {"type": "string"},
                                      "description": "SHA-256 of the file, hex."},
            },
            "content": {mime: binary for mime in mime_types},
        },
        "302": {
            "description": "A redirect to a signed, expiring URL (object storage).",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    }


def _export_format_resource() -> Schema:
    attributes = documents.attributes_object({
        "name": {"type": "string"},
        "mime_type": {"type": "string"},
        "extension": {"type": "string"},
        "modalities": {"type": "array",
                       "items": {"type": "string", "enum": sorted(MODALITIES)}},
        "available": {"type": "boolean",
                      "description": "False when the format's optional package is missing "
                                     "(exports in it are then refused with 422)."},
        "notes": {"type": "string"},
        "compressible": {"type": "boolean"},
    })
    return documents.resource_object("export-formats", attributes, None)


def _modalities_parameter() -> Schema:
    return query_parameter(
        "modalities", comma_items({"type": "string", "enum": sorted(MODALITIES)}),
        "The data modalities the formats must support (comma list).",
        required=True, comma_list=True)


DESTROY = OperationSpec(errors=(409,))
CREATE = OperationSpec(status=202, errors=(409,), links=_export_links, notes=EXPORT_NAMES,
                       example=_EXPORT_EXAMPLE)
DOWNLOAD = OperationSpec(
    responses=_download_responses, errors=(409, 410),
    notes="A `file` number past the export's last file is a 400 naming `file`.",
    parameters=(query_parameter("file", {"type": "integer", "minimum": 1},
                                "Which file of several (1-based)."),))
FORMATS_LIST = OperationSpec(
    responses=data_response(
        "The export formats supporting the given modalities.", "ExportFormatCollectionDocument",
        lambda: documents.document(_export_format_resource(), collection=True)),
    parameters=(_modalities_parameter(),))
