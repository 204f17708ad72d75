"""S3 clients for the file server, one per identity, and its health probe; no Django import (used by the
deployer too)."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config as BotoConfig

from strata.deploy.config import Config
from strata.deploy.roles.probe import Health, timed


def endpoint(config: Config) -> str:
    host = config.host_of("files")
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"http://{address}:{config.roles['files']['port']}"


def _client(url: str, key: str, secret: str, timeout: float):
    return boto3.client(
        "s3",
        endpoint_url=url,
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
def _cached(url, key, secret, timeout):
    return _client(url, key, secret, timeout)


def app_client(config: Config, secrets: dict, timeout: float = 5):
    return _cached(endpoint(config), secrets["s3_app_access_key"], secrets["s3_app_secret_key"], timeout)


def backup_client(config: Config, secrets: dict, timeout: float = 5):
    return _cached(
        endpoint(config), secrets["s3_backup_access_key"], secrets["s3_backup_secret_key"], timeout
    )


def admin_client(config: Config, secrets: dict, timeout: float = 5):
    return _cached(endpoint(config), secrets["s3_admin_access_key"], secrets["s3_admin_secret_key"], timeout)


def probe(config: Config, secrets: dict, host) -> Health:
    """HEAD the app's bucket with the app's own identity."""

    def check():
        app_client(config, secrets, timeout=2).head_bucket(Bucket=config.roles["files"]["bucket"])
        return f"S3 ok, bucket {config.roles['files']['bucket']}"

    return timed(check)
