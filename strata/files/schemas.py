"""The files API's shapes: parameter types, request and response schemas (pydantic, via django-ninja)
and the JSON form of the models. api.py declares its operations with these; ninja validates requests
against them and generates /api/files/openapi.json from the same ones.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from django.urls import reverse
from ninja import Field, Schema
from pydantic import BeforeValidator, model_validator

from . import actions
from .models import File, Folder, Space, Upload
from .name_pattern import NAME_PATTERN

Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=actions.MAX_NAME_BYTES,
        json_schema_extra={"pattern": NAME_PATTERN},
        description=f"Stored in Unicode NFC; at most {actions.MAX_NAME_BYTES} bytes in UTF-8.",
    ),
]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _json_integer(value):
    """Accept what JSON Schema calls an integer (5 or 5.0), not "5" nor true: query and path
    parameters arrive as text and are parsed, but a JSON body says what type it means."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


JsonInt = BeforeValidator(_json_integer)
BodyId = Annotated[int, Field(ge=1, le=2**63 - 1), JsonInt]
Size = Annotated[int, Field(ge=0, le=2**63 - 1), JsonInt]
Days = Annotated[int, Field(ge=1, le=3650), JsonInt]
Downloads = Annotated[int, Field(ge=1, le=1_000_000), JsonInt]
Page = Annotated[int, Field(le=2**31, description="pages hold 200 entries; below 1 means 1")]
PartNumber = Annotated[int, Field(ge=1, le=10_000)]  # S3 multipart allows 10,000 parts
Conflict = Literal["fail", "rename"]
Kind = Literal["files", "folders"]


class Error(Schema):
    error: str


ERRORS = {
    400: Error,  # bad input (name, size, part number, JSON)
    401: Error,  # not logged in, or the API token is not valid
    403: Error,  # a session write without the CSRF header, or an action the sharing table refuses
    404: Error,  # not found (also when it exists but is not yours)
    409: Error,  # a file or folder with that name already exists here
    410: Error,  # the file's content is missing
    413: Error,  # over your quota or the size limit
    503: Error,  # the file server is unavailable
}
BYTES_ERRORS = {**ERRORS, 411: Error, 415: Error}


# --- request and response shapes --------------------------------------------------------------------
class SpaceOut(Schema):
    id: int
    kind: Literal["personal", "group"]
    title: str


class QuotaOut(Schema):
    limit: int
    used: int


class SpacesOut(Schema):
    spaces: list[SpaceOut]
    quota: QuotaOut


class FileOut(Schema):
    id: int
    type: Literal["file"]
    name: str
    size: int
    content_type: str
    sha256: str | None
    space: int
    folder: int | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    download: str
    missing: bool


class FolderOut(Schema):
    id: int
    type: Literal["folder"]
    name: str
    space: int
    parent: int | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})


class ListingOut(Schema):
    space: SpaceOut
    folder: FolderOut | None
    folders: list[FolderOut]
    files: list[FileOut]
    page: int


class FilesOut(Schema):
    files: list[FileOut]


class PurgedOut(Schema):
    purged: int


class StoredPart(Schema):
    number: int
    size: int
    sha256: str = Field(description="hex sha256 of the part's bytes as the server received them")


class UploadOut(Schema):
    id: uuid.UUID
    name: str
    size: int
    part_size: int
    parts: int
    received: list[int]
    stored: list[StoredPart] = Field(
        description="the parts held whole, with their checksums: a client resuming skips a part only "
        "when its own size and sha256 of it match"
    )


class PartOut(Schema):
    part: int


class ShareOut(Schema):
    id: int
    permission: Literal["read", "write"]
    user: str | None
    group: str | None


class LinkOut(Schema):
    id: int
    url: str
    expires_at: str | None = Field(json_schema_extra={"format": "date-time"})
    max_downloads: int | None


class Target(Schema):
    space: BodyId | None = Field(None, description="space id (default: your own space)")
    folder: BodyId | None = Field(None, description="folder id (implies its space)")


class FolderIn(Target):
    name: Name


class NodePatch(Target):
    name: Name | None = None


class UploadIn(Target):
    name: Name
    size: Size
    content_type: str | None = None


class ShareIn(Schema):
    username: str = Field("", description="a person's username")
    group: str = Field("", description="a group's name")
    permission: Literal["read", "write"] = "read"  # Share.READ

    @model_validator(mode="after")
    def _one_holder(self):
        if not (self.username or self.group):
            raise ValueError("name a person (username) or a group to share with")
        return self

    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {"required": ["username"], "properties": {"username": {"minLength": 1}}},
                {"required": ["group"], "properties": {"group": {"minLength": 1}}},
            ]
        }
    }


class LinkIn(Schema):
    expires_in_days: Days | None = None
    password: str = ""
    max_downloads: Downloads | None = None


RAW_BODY = {
    "requestBody": {
        "required": False,  # no body: zero bytes
        "description": "The bytes, with Content-Length (chunked transfer encoding is refused).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
FORM_BODY = {
    "requestBody": {
        "required": True,
        "description": "One or more file parts, each streamed to the file server as it arrives.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                }
            }
        },
    }
}


# --- JSON shapes of the models ---------------------------------------------------------------------
def file_json(f: File) -> dict:
    return {
        "id": f.id,
        "type": "file",
        "name": f.name,
        "size": f.size,
        "content_type": f.content_type,
        "sha256": f.sha256 or None,
        "space": f.space_id,
        "folder": f.folder_id,
        "created_at": f.created_at.isoformat(),
        "updated_at": f.updated_at.isoformat(),
        "download": reverse("files:api-file-content", args=[f.id]),
        "missing": f.missing_since is not None,
    }


def folder_json(f: Folder) -> dict:
    return {
        "id": f.id,
        "type": "folder",
        "name": f.name,
        "space": f.space_id,
        "parent": f.parent_id,
        "created_at": f.created_at.isoformat(),
    }


def space_json(s: Space) -> dict:
    return {"id": s.id, "kind": s.kind, "title": s.title}


def upload_json(upload: Upload, parts: dict[int, int]) -> dict:
    return {
        "id": str(upload.id),
        "name": upload.name,
        "size": upload.size,
        "part_size": upload.part_size,
        "parts": actions.part_count(upload),
        "received": sorted(parts),
        "stored": actions.stored_parts(upload, parts) if parts else [],
    }
