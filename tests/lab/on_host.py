"""Functions that run on a lab host (plain Python inside its namespace, with its config, secrets and var/),
called by the lab tests through in_host; each returns JSON-able data."""

from __future__ import annotations

from strata.deploy import config as cfgmod
from strata.deploy.roles.files import client as s3


def stored_bytes() -> int:
    """Return the bytes held in the files bucket, asked of the file server from this host with the app's
    identity (an app host holds no S3 admin key)."""
    config = cfgmod.load()
    secrets = cfgmod.load_secrets(config)
    listing = s3.app_client(config, secrets).list_objects_v2(Bucket=config.roles["files"]["bucket"])
    return sum(o["Size"] for o in listing.get("Contents", []))
