"""WebDAV state every app server must see: locks and dead properties live in the database, not in one
process's memory."""

from django.db import models


class Lock(models.Model):
    """A WebDAV lock (RFC 4918 class 2) on ROOT, a path below /dav/; DATA is WsgiDAV's lock dictionary."""

    token = models.CharField(max_length=100, primary_key=True)
    root = models.TextField(db_index=True)
    expire = models.FloatField()  # seconds since the epoch (WsgiDAV's unit); -1: never
    data = models.JSONField()

    def __str__(self) -> str:
        return f"lock {self.token} on {self.root}"


class DeadProperty(models.Model):
    """A property a client stored with PROPPATCH on the resource at PATH (its URL below /dav/)."""

    path = models.TextField()
    name = models.TextField()  # "{namespace}local-name"
    value = models.TextField()  # the property's XML

    class Meta:
        constraints = [models.UniqueConstraint(fields=["path", "name"], name="dav_deadproperty_unique")]
        indexes = [models.Index(fields=["path"])]

    def __str__(self) -> str:
        return f"{self.name} of {self.path}"
