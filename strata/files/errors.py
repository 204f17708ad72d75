"""Refusals raised by the files code, each with the HTTP status a view answers and a human message."""


class FilesError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status:
            self.status = status


class Conflict(FilesError):
    status = 409


class QuotaExceeded(FilesError):
    status = 413


class Gone(FilesError):
    status = 410


class TruncatedUpload(FilesError):
    """The client sent fewer bytes than it announced."""


class StorageUnavailable(FilesError):
    """The file server did not answer or refused the request."""

    status = 503
