"""The HTTP response that hands an export file over, shared by the API and the admin."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect

from exports.models import ExportFile


def file_response(export_file: ExportFile) -> HttpResponse:
    """The file as an attachment from local storage, or a redirect to object storage's signed,
    expiring URL (the file never passes through this process there)."""
    if not isinstance(default_storage, FileSystemStorage):
        return HttpResponseRedirect(default_storage.url(export_file.storage_name))
    response = FileResponse(default_storage.open(export_file.storage_name, "rb"),
                            as_attachment=True, filename=export_file.filename,
                            content_type=export_file.mime_type)
    response["Content-Length"] = str(export_file.size)
    response["X-Checksum-SHA256"] = export_file.sha256
    return response
