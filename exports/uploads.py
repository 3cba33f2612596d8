"""Publishing a complete local export file to an object store, a part at a time.

django-storages' ``S3Storage.save`` hands the file to boto3's ``upload_fileobj``, which reads
up to ``max_in_memory_upload_chunks`` (10) parts of the file into memory ahead of the upload
(80 MB with the default 8 MB parts). Written through the storage's own streaming file
(``storage.open(name, "wb")``: an ``S3File``, one multipart upload), the process holds one
part (``AWS_S3_FILE_BUFFER_SIZE``, 5 MB by default) at a time. The object appears only when
the upload completes, all at once; an upload that fails is aborted, so no partial object is
left behind."""

from __future__ import annotations

import shutil

from django.core.files import File
from django.core.files.storage import Storage

BLOCK_SIZE = 1 << 20


def streams_multipart(storage: Storage) -> bool:
    """Whether ``storage.open(name, "wb")`` streams a multipart upload (django-storages'
    S3 backend)."""
    # (__class__: the storage's own class through a lazy proxy such as default_storage too)
    return storage.__class__.__module__.startswith("storages.backends.s3")


def upload(local_path: str, name: str, storage: Storage) -> str:
    """Upload the file at ``local_path`` as ``name`` (or the name the storage picks, as
    ``save`` would); returns the stored name."""
    if not streams_multipart(storage):
        with open(local_path, "rb") as fh:
            return storage.save(name, File(fh))
    name = storage.get_available_name(name)
    target = storage.open(name, "wb")
    try:
        with open(local_path, "rb") as fh:
            shutil.copyfileobj(fh, target, BLOCK_SIZE)
    except BaseException:
        # S3File.close() would complete the upload with the parts sent so far: abort it.
        multipart = getattr(target, "_multipart", None)
        if multipart is not None:
            multipart.abort()
        raise
    target.close()  # completes the multipart upload: the object appears
    return name
