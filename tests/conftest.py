"""Shared fixtures: a real Strata stack (PostgreSQL, gunicorn, nginx) in a temp dir on free ports.

The stack is started by strata.deploy.up, the same code `make up` runs, and always stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import local as deploy
from strata.deploy.roles.base import HostContext
from strata.deploy.system import port_free

IN_CI = os.environ.get("CI") == "true"
NEEDED = ("/usr/lib/postgresql/15/bin/postgres", "/usr/sbin/nginx")


def require_servers() -> None:
    """Skip (outside CI) or fail (in CI) when the stack cannot be started here."""
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root (PostgreSQL runs as postgres, nginx workers as www-data)")
    problems += [f"{p} is not installed (make test installs it)" for p in NEEDED if not Path(p).exists()]
    if problems:
        if IN_CI:
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))


def port_is_free(port: int, address: str = "127.0.0.1") -> bool:
    """Whether a server could listen on PORT now (connections in TIME_WAIT do not count)."""
    return port_free(address, port)


def free_ports(*groups: int) -> list[int]:
    """Return the first port of each group of free ports; group sizes given as arguments."""
    rng = random.Random()
    used: set[int] = set()
    out: list[int] = []
    for size in groups:
        while True:
            base = rng.randrange(20000, 60000)
            group = set(range(base, base + size))
            if not group & used and all(port_is_free(p) for p in group):
                used |= group
                out.append(base)
                break
    return out


def write_topology(root: Path, *, instances: int = 2, extra: str = "") -> Path:
    http, https, db, app = free_ports(1, 1, 1, instances)
    path = root / "strata.toml"
    path.write_text(f"""
[site]
name = "Strata test"
domain = "localhost"
var_dir = "var"

[hosts.local]
address = "127.0.0.1"

[roles.web]
hosts = ["local"]
http_port = {http}
https_port = {https}
workers = 1

[roles.app]
hosts = ["local"]
instances = {instances}
port = {app}
workers = 2

[roles.db]
hosts = ["local"]
port = {db}
{extra}
""")
    return path


def make_root(prefix: str) -> Path:
    # mkdtemp makes a 0700 directory; the service users must traverse it.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(root, 0o755)
    return root


@dataclass
class Stack:
    root: Path
    config: cfgmod.Config
    secrets: dict
    result: deploy.UpResult

    @property
    def url(self) -> str:
        return self.result.url.rstrip("/")

    @property
    def ca(self) -> Path:
        return self.result.ca_cert

    @property
    def admin(self) -> tuple[str, str]:
        return self.config.site["admin_username"], self.secrets["admin_password"]

    def ctx(self) -> HostContext:
        return HostContext(self.config, self.secrets, self.config.hosts["local"])

    def shell(self, code: str) -> str:
        """Run Python CODE in the site's Django (manage.py shell -c)."""
        return self.ctx().manage("shell", "--no-imports", "-c", code)


@contextlib.contextmanager
def running_stack(prefix: str, extra: str = "", instances: int = 2):
    """Start a stack in a fresh temp dir; always stop it and remove the dir."""
    require_servers()
    root = make_root(prefix)
    path = write_topology(root, instances=instances, extra=extra)
    try:
        result = deploy.up(path)
        config = cfgmod.load(path)
        yield Stack(root, config, cfgmod.load_secrets(config), result)
    finally:
        try:
            deploy.down(path)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def all_optional_roles_toml() -> str:
    """The three optional roles on the local host, on free ports (the default `make up` topology)."""
    smtp, ldap = free_ports(1, 1)
    return (
        files_role_toml() + f'\n[roles.comms]\nhosts = ["local"]\nport = {smtp}\n'
        f'\n[roles.domain]\nhosts = ["local"]\nport = {ldap}\n'
    )


def files_role_toml() -> str:
    s3, internal = free_ports(1, 9)
    return f'\n[roles.files]\nhosts = ["local"]\nport = {s3}\ninternal_port = {internal}\npart_mb = 5\n'


@pytest.fixture(scope="session")
def stack():
    """The required roles only: every optional role absent, so their fallbacks are in use."""
    with running_stack("strata-test-") as s:
        yield s


@pytest.fixture(scope="session")
def files_stack():
    """The required roles plus the file server (SeaweedFS)."""
    with running_stack("strata-files-", extra=files_role_toml()) as s:
        yield s
