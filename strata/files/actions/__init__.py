"""Every change to files: views, the API, commands and tests call these verbs (one module per concern).

Rule for bytes and rows: the object is written first and the row committed only once the object exists;
when anything fails afterwards the object is removed, so a failed upload leaves neither.
"""

from ..errors import Conflict, FilesError, Gone, QuotaExceeded
from ..limits import max_upload_bytes, part_bytes
from ..tasks import fill_sha256
from .audit import audit
from .downloads import content_target, content_url, download_target, preview
from .links import (
    check_link_password,
    count_link_download,
    create_link,
    get_link,
    revoke_link,
    serve_link_file,
)
from .names import MAX_NAME_BYTES, clean_name, free_name
from .search import search
from .sharing import share, shared_with, unshare
from .spaces import (
    check_quota,
    check_target,
    nav_spaces,
    personal_space,
    quota_bytes,
    quota_status,
    recount_usage,
    set_quota,
    spaces_for,
    used_bytes,
)
from .tree import (
    Destination,
    create_folder,
    empty_trash,
    listing,
    move,
    move_destinations,
    rename,
    restore,
    trash,
    trashed_in,
)
from .uploads import (
    admit_form_upload,
    admit_upload,
    begin_upload,
    cancel_upload,
    check_size,
    commit_upload,
    complete_upload,
    expected_part_size,
    part_count,
    put_upload_part,
    register_uploaded,
    stored_parts,
    upload_file,
    upload_parts,
)

__all__ = [
    "MAX_NAME_BYTES",
    "Conflict",
    "Destination",
    "FilesError",
    "Gone",
    "QuotaExceeded",
    "admit_form_upload",
    "admit_upload",
    "audit",
    "begin_upload",
    "cancel_upload",
    "check_link_password",
    "check_quota",
    "check_size",
    "check_target",
    "clean_name",
    "commit_upload",
    "complete_upload",
    "count_link_download",
    "create_folder",
    "create_link",
    "content_target",
    "content_url",
    "download_target",
    "empty_trash",
    "expected_part_size",
    "fill_sha256",
    "free_name",
    "get_link",
    "listing",
    "max_upload_bytes",
    "move",
    "move_destinations",
    "preview",
    "nav_spaces",
    "part_bytes",
    "part_count",
    "personal_space",
    "put_upload_part",
    "quota_bytes",
    "quota_status",
    "recount_usage",
    "register_uploaded",
    "rename",
    "restore",
    "revoke_link",
    "search",
    "serve_link_file",
    "set_quota",
    "share",
    "shared_with",
    "stored_parts",
    "spaces_for",
    "trash",
    "trashed_in",
    "unshare",
    "upload_file",
    "upload_parts",
    "used_bytes",
]
