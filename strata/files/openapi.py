"""The OpenAPI 3.1 document of the files API, served at /api/files/openapi.json."""

from __future__ import annotations

from strata import __version__


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Bad input (name, size, part number, JSON)"),
    "401": _json(_ref("Error"), "Not logged in, or the API token is not valid"),
    "404": _json(_ref("Error"), "Not found (also when it exists but is not yours)"),
    "409": _json(_ref("Error"), "A file or folder with that name already exists here"),
    "410": _json(_ref("Error"), "The file's content is missing, or the link expired or is used up"),
    "411": _json(_ref("Error"), "Content-Length is required"),
    "413": _json(_ref("Error"), "Over your quota or the size limit"),
    "503": _json(_ref("Error"), "The file server is unavailable"),
}


def _op(
    summary: str, ok: dict, *, body: dict | None = None, params: list | None = None, status: str = "200"
) -> dict:
    op = {"summary": summary, "responses": {status: ok, **ERRORS}}
    if body:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


def _param(
    name: str, where: str = "path", required: bool = True, schema: dict | None = None, description: str = ""
) -> dict:
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": schema or {"type": "integer"},
        "description": description,
    }


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


RAW_BODY = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "description": "The bytes, with Content-Length (chunked transfer encoding is refused).",
}
TARGET = {
    "space": {"type": "integer", "description": "space id (default: your own space)"},
    "folder": {"type": "integer", "description": "folder id (implies its space)"},
}


def document() -> dict:
    file_id, folder_id = _param("file_id"), _param("folder_id")
    kind = _param("kind", schema={"type": "string", "enum": ["files", "folders"]})
    node_id, upload_id = _param("node_id"), _param("upload_id", schema={"type": "string", "format": "uuid"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Strata files API",
            "version": __version__,
            "description": "Authenticate with the session cookie (and the X-CSRFToken header for "
            "writes) or with `Authorization: Bearer <token>`. Names are stored in "
            "Unicode NFC; a name already taken gives 409 unless `conflict=rename` "
            "(then “name (2).ext”). Downloads are served by the web server "
            "(X-Accel-Redirect) and honour Range.",
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "token": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Space": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "kind": {"enum": ["personal", "group"]},
                    },
                },
                "File": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "type": {"const": "file"},
                        "name": {"type": "string"},
                        "size": {"type": "integer"},
                        "content_type": {"type": "string"},
                        "sha256": {"type": ["string", "null"]},
                        "space": {"type": "integer"},
                        "folder": {"type": ["integer", "null"]},
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string"},
                        "download": {"type": "string"},
                        "missing": {"type": "boolean"},
                    },
                },
                "Folder": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "type": {"const": "folder"},
                        "name": {"type": "string"},
                        "space": {"type": "integer"},
                        "parent": {"type": ["integer", "null"]},
                    },
                },
                "Upload": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "size": {"type": "integer"},
                        "part_size": {"type": "integer"},
                        "parts": {"type": "integer"},
                        "received": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            },
        },
        "security": [{"session": []}, {"token": []}],
        "paths": {
            "/api/files/": {
                "get": _op(
                    "Your spaces and quota",
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "spaces": {"type": "array", "items": _ref("Space")},
                                "quota": {"type": "object"},
                            },
                        }
                    ),
                )
            },
            "/api/files/search": {
                "get": _op(
                    "Find files you may read by name",
                    _json(
                        {"type": "object", "properties": {"files": {"type": "array", "items": _ref("File")}}}
                    ),
                    params=[_param("q", "query", schema={"type": "string"})],
                )
            },
            "/api/files/spaces/{space_id}/": {
                "get": _op(
                    "List a space's root or one of its folders",
                    _json({"type": "object"}),
                    params=[
                        _param("space_id"),
                        _param("folder", "query", False),
                        _param("page", "query", False),
                    ],
                )
            },
            "/api/files/spaces/{space_id}/trash/empty": {
                "post": _op(
                    "Delete the space's trash for good",
                    _json({"type": "object"}),
                    params=[_param("space_id")],
                )
            },
            "/api/files/folders": {
                "post": _op(
                    "Create a folder",
                    _json(_ref("Folder"), "Created"),
                    status="201",
                    body=_json_body(
                        {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}, **TARGET},
                        }
                    ),
                )
            },
            "/api/files/folders/{folder_id}": {
                "get": _op("A folder", _json(_ref("Folder")), params=[folder_id]),
                "patch": _op(
                    "Rename or move a folder",
                    _json(_ref("Folder")),
                    params=[folder_id],
                    body=_json_body({"type": "object", "properties": {"name": {"type": "string"}, **TARGET}}),
                ),
                "delete": _op(
                    "Move a folder to the trash", {"description": "Moved"}, params=[folder_id], status="204"
                ),
            },
            "/api/files/folders/{folder_id}/restore": {
                "post": _op("Restore from the trash", _json(_ref("Folder")), params=[folder_id])
            },
            "/api/files/files/{file_id}": {
                "get": _op("A file's metadata", _json(_ref("File")), params=[file_id]),
                "patch": _op(
                    "Rename or move a file",
                    _json(_ref("File")),
                    params=[file_id],
                    body=_json_body({"type": "object", "properties": {"name": {"type": "string"}, **TARGET}}),
                ),
                "delete": _op(
                    "Move a file to the trash", {"description": "Moved"}, params=[file_id], status="204"
                ),
            },
            "/api/files/files/{file_id}/content": {
                "get": _op(
                    "Download (Range supported)",
                    {"description": "The bytes", "content": {"application/octet-stream": {}}},
                    params=[file_id],
                )
            },
            "/api/files/files/{file_id}/restore": {
                "post": _op("Restore from the trash", _json(_ref("File")), params=[file_id])
            },
            "/api/files/{kind}/{node_id}/shares": {
                "post": _op(
                    "Share with a person or a group",
                    _json({"type": "object"}, "Shared"),
                    status="201",
                    params=[kind, node_id],
                    body=_json_body(
                        {
                            "type": "object",
                            "properties": {
                                "username": {"type": "string"},
                                "group": {"type": "string"},
                                "permission": {"enum": ["read", "write"]},
                            },
                        }
                    ),
                )
            },
            "/api/files/{kind}/{node_id}/links": {
                "post": _op(
                    "Create a public link",
                    _json({"type": "object", "properties": {"url": {"type": "string"}}}, "Created"),
                    status="201",
                    params=[kind, node_id],
                    body=_json_body(
                        {
                            "type": "object",
                            "properties": {
                                "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
                                "password": {"type": "string"},
                                "max_downloads": {"type": "integer", "minimum": 1},
                            },
                        }
                    ),
                )
            },
            "/api/files/shares/{share_id}": {
                "delete": _op(
                    "Remove a share", {"description": "Removed"}, params=[_param("share_id")], status="204"
                )
            },
            "/api/files/links/{link_id}": {
                "delete": _op(
                    "Revoke a public link",
                    {"description": "Revoked"},
                    params=[_param("link_id")],
                    status="204",
                )
            },
            "/api/files/uploads/put": {
                "put": _op(
                    "Upload a file in one request (streamed to the file server)",
                    _json(_ref("File"), "Created"),
                    status="201",
                    body=RAW_BODY,
                    params=[
                        _param("name", "query", schema={"type": "string"}),
                        _param("space", "query", False),
                        _param("folder", "query", False),
                        _param("conflict", "query", False, {"enum": ["fail", "rename"]}),
                    ],
                )
            },
            "/api/files/uploads/form": {
                "post": _op(
                    "Upload files as multipart/form-data (one or more file parts)",
                    _json(
                        {"type": "object", "properties": {"files": {"type": "array", "items": _ref("File")}}},
                        "Created",
                    ),
                    status="201",
                    body={
                        "required": True,
                        "content": {"multipart/form-data": {"schema": {"type": "object"}}},
                    },
                    params=[
                        _param("space", "query", False),
                        _param("folder", "query", False),
                        _param("conflict", "query", False, {"enum": ["fail", "rename"]}),
                    ],
                )
            },
            "/api/files/uploads/": {
                "post": _op(
                    "Open a resumable upload; send parts next",
                    _json(_ref("Upload"), "Created"),
                    status="201",
                    body=_json_body(
                        {
                            "type": "object",
                            "required": ["name", "size"],
                            "properties": {
                                "name": {"type": "string"},
                                "size": {"type": "integer"},
                                "content_type": {"type": "string"},
                                **TARGET,
                            },
                        }
                    ),
                )
            },
            "/api/files/uploads/{upload_id}": {
                "get": _op("Parts received so far (to resume)", _json(_ref("Upload")), params=[upload_id]),
                "delete": _op(
                    "Cancel the upload", {"description": "Cancelled"}, params=[upload_id], status="204"
                ),
            },
            "/api/files/uploads/{upload_id}/parts/{number}": {
                "put": _op(
                    "Send part NUMBER (1-based; each part_size bytes, the last one the rest)",
                    _json({"type": "object"}),
                    params=[upload_id, _param("number")],
                    body=RAW_BODY,
                )
            },
            "/api/files/uploads/{upload_id}/complete": {
                "post": _op(
                    "Join the parts; the file exists from now on",
                    _json(_ref("File"), "Created"),
                    status="201",
                    params=[upload_id],
                )
            },
        },
    }
