"""S3 clients for the file server, one per identity, and its health probe; no Django import (used by the
deployer too)."""

from __future__ import annotations

import functools
import ssl

import boto3
from botocore.config import Config as BotoConfig

from strata.deploy.config import Config
from strata.deploy.roles.probe import Health, timed


def endpoint(config: Config) -> str:
    """Return the S3 gateway's URL: HTTPS on the files host, with a certificate from the site CA."""
    host = config.host_of("files")
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"https://{address}:{config.roles['files']['port']}"


def ca_file(config: Config) -> str:
    """Return the site CA certificate that S3 clients verify the file server against."""
    return str(config.var_dir / "pki" / "ca.crt")


def ssl_context(config: Config) -> ssl.SSLContext:
    """Return a TLS context that trusts only the site CA (for the presigned PUTs sent without boto3)."""
    return _context(ca_file(config))


@functools.lru_cache(maxsize=4)
def _context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def _client(url: str, key: str, secret: str, timeout: float, cafile: str):
    return boto3.client(
        "s3",
        endpoint_url=url,
        verify=cafile,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=timeout,
            read_timeout=max(timeout, 30),
            retries={"max_attempts": 2, "mode": "standard"},
            # SeaweedFS does not need the newer default integrity trailers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@functools.lru_cache(maxsize=8)
def _cached(url, key, secret, timeout, cafile):
    return _client(url, key, secret, timeout, cafile)


def _identity(config: Config, secrets: dict, name: str, timeout: float):
    key, secret = secrets[f"s3_{name}_access_key"], secrets[f"s3_{name}_secret_key"]
    return _cached(endpoint(config), key, secret, timeout, ca_file(config))


def app_client(config: Config, secrets: dict, timeout: float = 5):
    """The app's identity: read, write and list the files bucket, nothing else."""
    return _identity(config, secrets, "app", timeout)


def backup_client(config: Config, secrets: dict, timeout: float = 5):
    """The backup identity: read the files bucket, read and write the backups bucket."""
    return _identity(config, secrets, "backup", timeout)


def admin_client(config: Config, secrets: dict, timeout: float = 5):
    """The admin identity: the deployer (buckets) and restores (they write the files bucket)."""
    return _identity(config, secrets, "admin", timeout)


def probe(config: Config, secrets: dict, host) -> Health:
    """HEAD the app's bucket with the app's own identity."""

    def check():
        app_client(config, secrets, timeout=2).head_bucket(Bucket=config.roles["files"]["bucket"])
        return f"S3 ok, bucket {config.roles['files']['bucket']}"

    return timed(check)
