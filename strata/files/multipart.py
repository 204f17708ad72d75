"""multipart/form-data uploads (plain HTML forms, scripts): each file part streams to the file server.

Django's parser hands the bytes to StreamingHandler in small chunks; storage.PartWriter gathers them into
parts of roles.files.part_mb and sends each on at once, so a worker holds at most one part, never a file.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import IO, cast

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http.multipartparser import MultiPartParser

from .errors import FilesError
from .limits import max_upload_bytes, part_bytes
from .storage import PartWriter, StoredObject, backend


class StrictParser(MultiPartParser):
    def sanitize_file_name(self, file_name):
        # Keep the name as sent: Django would quietly cut "../x" down to "x", while Strata refuses
        # separators and traversal with a clear message (actions.clean_name).
        return file_name


class CountingStream:
    """Wrap the request body to learn whether all announced bytes arrived."""

    def __init__(self, stream):
        self.stream, self.count = stream, 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.count += len(data)
        return data


class StreamingHandler(FileUploadHandler):
    chunk_size = 256 * 1024

    def __init__(self, request=None):
        super().__init__(request)
        self.stored: list[StoredObject] = []
        self.writer: PartWriter | None = None
        self._part_size = part_bytes()
        self._max_bytes = max_upload_bytes()

    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.key = uuid.uuid4().hex
        self.size = 0
        self.digest = hashlib.sha256()
        self.ctype = (content_type or "application/octet-stream")[:255]
        self.raw_name = file_name
        self.writer = PartWriter(backend(), self.key, self.ctype, self._part_size)

    def _open_writer(self) -> PartWriter:
        if self.writer is None:  # the parser calls new_file() before any chunk of a file
            raise StopUpload(connection_reset=True)
        return self.writer

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > self._max_bytes:
            self.abort()
            raise StopUpload(connection_reset=True)
        self.digest.update(raw_data)
        self._open_writer().write(raw_data)
        return None

    def file_complete(self, file_size):
        self._open_writer().close()  # small (or empty) file: one plain PUT
        self.writer = None
        obj = StoredObject(self.raw_name, self.key, self.size, self.digest.hexdigest(), self.ctype)
        self.stored.append(obj)
        return obj

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None

    def upload_interrupted(self):
        self.abort()

    def discard(self) -> None:
        """Remove every object this request stored (the request failed as a whole)."""
        self.abort()
        for obj in self.stored:
            backend().delete(obj.key)


def parse(request) -> tuple[dict, list[StoredObject], StreamingHandler]:
    """Parse a multipart request; return its fields, the stored files and the handler (for cleanup)."""
    if not request.content_type.startswith("multipart/form-data"):
        raise FilesError("Send multipart/form-data.", 415)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    handler = StreamingHandler(request)
    counter = CountingStream(request._stream)
    try:
        # The parser only calls read() and readline(), which CountingStream provides.
        stream = cast(IO[bytes], counter)
        fields, files = StrictParser(request.META, stream, [handler], request.encoding).parse()
        if counter.count < declared:
            raise FilesError("The upload was cut short; nothing was stored.")
    except FilesError:
        handler.discard()
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, the body is malformed
        handler.discard()
        raise FilesError(f"The multipart body is malformed: {type(exc).__name__}.") from None
    if not handler.stored and not files:
        raise FilesError("No file in the upload.")
    return fields, handler.stored, handler
