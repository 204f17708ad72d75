"""Files metadata: spaces, folders, files, shares, public links, quotas, uploads and the audit trail.

Bytes live on the file server (or, in the fallback, the app host's disk); rows here say who owns what.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Space(models.Model):
    """A root of folders: one per person, one per group."""

    PERSONAL, GROUP = "personal", "group"
    kind = models.CharField(max_length=10, choices=[(PERSONAL, "Personal"), (GROUP, "Group")])
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="file_space"
    )
    group = models.OneToOneField(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="file_space"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="space_has_one_owner",
                condition=(
                    Q(kind="personal", owner__isnull=False, group__isnull=True)
                    | Q(kind="group", owner__isnull=True, group__isnull=False)
                ),
            ),
        ]

    def __str__(self):
        return f"{self.owner or self.group} ({self.kind})"

    @property
    def title(self) -> str:
        if self.kind == self.PERSONAL:
            return "My files"
        return f"{self.group.name} (group)" if self.group is not None else "Group files"


class Node(models.Model):
    """Fields shared by folders and files."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE)
    name = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when moved to the trash; the whole subtree below a trashed folder is hidden with it.
    trashed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        abstract = True


class Folder(Node):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "parent", "name"],
                condition=Q(trashed_at__isnull=True),
                nulls_distinct=False,
                name="folder_unique_name",
            ),
        ]
        indexes = [models.Index(fields=["space", "parent", "name"])]

    def __str__(self):
        return self.name


class File(Node):
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.CASCADE, related_name="files")
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    # Object key on the file server: random, never derived from the name.
    key = models.CharField(max_length=64, unique=True)
    # Filled at upload time for single-request uploads, by a background task for chunked ones.
    sha256 = models.CharField(max_length=64, blank=True, default="")
    # Set by reconcile (or a download) when the object is found missing on the file server.
    missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "folder", "name"],
                condition=Q(trashed_at__isnull=True),
                nulls_distinct=False,
                name="file_unique_name",
            ),
        ]
        indexes = [models.Index(fields=["space", "folder", "name"]), models.Index(fields=["name"])]

    def __str__(self):
        return self.name


class Share(models.Model):
    READ, WRITE = "read", "write"
    file = models.ForeignKey(File, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="file_shares"
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="file_shares"
    )
    permission = models.CharField(max_length=5, choices=[(READ, "Read"), (WRITE, "Read and write")])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="share_one_target",
                condition=(
                    Q(file__isnull=False, folder__isnull=True) | Q(file__isnull=True, folder__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="share_one_grantee",
                condition=(
                    Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False)
                ),
            ),
        ]

    def __str__(self):
        return f"{self.file or self.folder} → {self.user or self.group} ({self.permission})"


class PublicLink(models.Model):
    token = models.CharField(max_length=64, unique=True)
    file = models.ForeignKey(File, null=True, blank=True, on_delete=models.CASCADE, related_name="links")
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.CASCADE, related_name="links")
    expires_at = models.DateTimeField(null=True, blank=True)
    password = models.CharField(max_length=255, blank=True, default="")  # a Django password hash
    max_downloads = models.PositiveIntegerField(null=True, blank=True)
    downloads = models.PositiveIntegerField(default=0)
    revoked = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="link_one_target",
                condition=(
                    Q(file__isnull=False, folder__isnull=True) | Q(file__isnull=True, folder__isnull=False)
                ),
            ),
        ]

    def __str__(self):
        return f"link to {self.file or self.folder}"


class Quota(models.Model):
    """A person's storage limit when an admin set one; otherwise roles.files.quota_mb applies."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="file_quota")
    limit_bytes = models.BigIntegerField()

    def __str__(self):
        return f"{self.user}: {self.limit_bytes} bytes"


class Usage(models.Model):
    """Bytes of stored files a person uploaded (trash included), kept up to date by
    actions.spaces.count_usage so the quota needs no sum over all their files."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="file_usage"
    )
    bytes = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.user}: {self.bytes} bytes used"


class Upload(models.Model):
    """A resumable upload in progress: parts go straight to the file server's multipart upload."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    part_size = models.BigIntegerField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    key = models.CharField(max_length=64, unique=True)
    backend_upload_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"upload of {self.name} ({self.size} bytes)"


class UploadPart(models.Model):
    """A part of a resumable upload the file server holds, with the sha256 of its bytes as received: a
    browser resuming after a reload skips a part only when its own checksum of the part matches this."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="stored_parts")
    number = models.PositiveIntegerField()
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "number"], name="files_uploadpart_unique")]

    def __str__(self):
        return f"part {self.number} of {self.upload_id}"


class AuditEvent(models.Model):
    UPLOAD, DOWNLOAD, SHARE, UNSHARE, DELETE, RESTORE, PURGE, LINK_CREATE, LINK_ACCESS, RENAME, MOVE = (
        "upload",
        "download",
        "share",
        "unshare",
        "delete",
        "restore",
        "purge",
        "link-create",
        "link-access",
        "rename",
        "move",
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, db_index=True)
    file = models.ForeignKey(File, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=255, blank=True, default="")  # kept when the node is gone
    address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.name}"


class LinkPasswordTry(models.Model):
    """A password tried on a public link from one address, kept for an hour: the limit on guessing
    counts these (in the database, because the site's cache is per process, not shared between app
    servers). A try that turns out right is deleted again."""

    link = models.ForeignKey(PublicLink, on_delete=models.CASCADE, related_name="+")
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["link", "address", "at"])]

    def __str__(self):
        return f"password try on link {self.link_id} from {self.address}"


class DeletedObject(models.Model):
    """The object of a file deleted for good, kept until the point-in-time recovery window (files role
    `retention_days`) has passed: a restore to any moment in the window finds the bytes of that moment's
    rows. Purged by the `files.purge` task; reconcile counts these keys as known."""

    key = models.CharField(max_length=64, unique=True)
    deleted_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.key
