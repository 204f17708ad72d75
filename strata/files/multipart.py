"""multipart/form-data uploads (plain HTML forms, scripts): each file part streams to the file server.

Django's parser hands the bytes to StreamingHandler in small chunks; they are gathered into parts of
roles.files.part_mb and sent on at once, so a worker holds at most one part, never a whole file.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http.multipartparser import MultiPartParser

from . import actions
from .errors import FilesError
from .storage import backend


@dataclass
class StoredObject:
    """What a file part became on the file server (in place of Django's UploadedFile)."""

    name: str
    key: str
    size: int
    sha256: str
    content_type: str
    error: str = ""


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
        self._part_size = actions.part_bytes()

    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.key = uuid.uuid4().hex
        self.buffer = bytearray()
        self.part = 0
        self.size = 0
        self.digest = hashlib.sha256()
        self.upload_id = None
        self.ctype = (content_type or "application/octet-stream")[:255]
        self.raw_name = file_name

    def _flush(self, final: bool) -> None:
        while len(self.buffer) >= self._part_size or (final and self.buffer):
            chunk = bytes(self.buffer[: self._part_size])
            del self.buffer[: self._part_size]
            if self.upload_id is None:
                self.upload_id = backend().begin(self.key, self.ctype)
            self.part += 1
            backend().put_part(self.key, self.upload_id, self.part, io.BytesIO(chunk), len(chunk))

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > actions.max_upload_bytes():
            self.abort()
            raise StopUpload(connection_reset=True)
        self.digest.update(raw_data)
        self.buffer += raw_data
        self._flush(final=False)
        return None

    def file_complete(self, file_size):
        store = backend()
        if self.upload_id is None:
            # Small (or empty) file: one plain PUT.
            store.save_stream(
                self.key, io.BytesIO(bytes(self.buffer)), len(self.buffer), self.ctype, self._part_size
            )
        else:
            self._flush(final=True)
            store.complete(self.key, self.upload_id)
        obj = StoredObject(self.raw_name, self.key, self.size, self.digest.hexdigest(), self.ctype)
        self.stored.append(obj)
        self.upload_id = None
        return obj

    def abort(self) -> None:
        if getattr(self, "upload_id", None):
            backend().abort(self.key, self.upload_id)
            self.upload_id = None

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
        fields, files = StrictParser(request.META, counter, [handler], request.encoding).parse()
        if counter.count < declared:
            raise FilesError("The upload was cut short; nothing was stored.")
    except FilesError:
        handler.discard()
        raise
    except Exception as exc:
        handler.discard()
        raise FilesError(f"The multipart body is malformed: {type(exc).__name__}.") from None
    if not handler.stored and not files:
        raise FilesError("No file in the upload.")
    return fields, handler.stored, handler
