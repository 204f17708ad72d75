"""A real Strata stack (PostgreSQL, gunicorn, nginx, and any optional role) in a temp dir on free ports.

The stack is started by strata.deploy.local.up, the same code `make up` runs, and always stopped
afterwards. Tests, fixtures and the benchmarks share these helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import local as deploy
from strata.deploy.roles.base import HostContext
from strata.deploy.system import port_free

IN_CI = os.environ.get("CI") == "true"
NEEDED = ("/usr/lib/postgresql/15/bin/postgres", "/usr/sbin/nginx")
# The repository holding tests/ and bench/: put on the site's import path so it finds Stack.call's functions.
REPO = Path(__file__).resolve().parents[2]
CALL_ENV = "STRATA_TEST_CALL"
# The only code Stack.call runs through `manage.py shell`; the function and its arguments come as JSON in
# the environment, never inside the code.
CALL_BOOTSTRAP = (
    "import importlib, json, os\n"
    f"call = json.loads(os.environ[{CALL_ENV!r}])\n"
    "print(json.dumps(getattr(importlib.import_module(call['module']), call['name'])"
    "(*call['args'], **call['kwargs'])))\n"
)
# The same for plain Python (`python -c`, no Django) on a lab host: the call comes on stdin, with the
# repository to import from (the command runs with whatever cwd the test has).
STDIN_CALL_BOOTSTRAP = (
    "import importlib, json, sys\n"
    "call = json.load(sys.stdin); sys.path.insert(0, call['path'])\n"
    "print(json.dumps(getattr(importlib.import_module(call['module']), call['name'])"
    "(*call['args'], **call['kwargs'])))\n"
)


def call_spec(function: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return what the bootstraps read (as JSON): FUNCTION's module and name, ARGS, KWARGS, the repository."""
    if function.__module__ == "__main__" or "<locals>" in function.__qualname__:
        raise ValueError(
            f"{function.__qualname__} cannot be imported by another process: move it to a module"
        )
    return {
        "module": function.__module__,
        "name": function.__name__,
        "args": args,
        "kwargs": kwargs,
        "path": str(REPO),
    }


def call_result(out: str) -> Any:
    """Return what the called function returned, from the bootstrap's output (its last line)."""
    return json.loads(out.strip().splitlines()[-1])


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


def require_lab_tools() -> None:
    """Skip (outside CI) or fail (in CI) when the network-namespace lab cannot be built here."""
    require_servers()
    missing = [t for t in ("ip", "nft") if not shutil.which(t)]
    if missing:
        message = f"{', '.join(missing)} not installed (make test installs nftables and iproute2)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def port_is_free(port: int, address: str = "127.0.0.1") -> bool:
    """Return whether a server could listen on PORT now (connections in TIME_WAIT do not count)."""
    return port_free(address, port)


# Test ports come from below Linux's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
# default): a port found free there can be taken by any outgoing connection (nginx -> app, app ->
# PostgreSQL) in the seconds before its server binds it, which CI saw as a server that could not start.
# Ports handed out by this process are never handed out again, so the ports of a role chosen before the
# topology's (files_role_toml, then write_topology) cannot collide either. Under pytest-xdist each worker
# takes its own slice of the range, so two workers never pick the same port.
def _port_range(low: int = 20000, high: int = 32768) -> tuple[int, int]:
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit()):
        return low, high
    width = (high - low) // int(count)
    start = low + int(worker[2:]) * width
    return start, start + width


PORT_RANGE = _port_range()
_HANDED_OUT: set[int] = set()


def free_ports(*groups: int) -> list[int]:
    """Return the first port of each group of free ports; group sizes given as arguments."""
    rng = random.Random()
    out: list[int] = []
    for size in groups:
        while True:
            base = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - size)
            group = set(range(base, base + size))
            if not group & _HANDED_OUT and all(port_is_free(p) for p in group):
                _HANDED_OUT.update(group)
                out.append(base)
                break
    return out


def write_topology(
    root: Path,
    *,
    instances: int = 2,
    extra: str = "",
    web: str = "",
    app: str = "",
    site: str = "",
    workers: int = 2,
) -> Path:
    """Write ROOT/strata.toml: the required roles on one loopback host, on free ports, plus EXTRA (and
    WEB, lines of roles.web, APP, of roles.app, and SITE, of site); WORKERS per app instance (0: by cores,
    the default of `make up`)."""
    http, https, db, app_port, events = free_ports(1, 1, 1, instances, 1)
    path = root / "strata.toml"
    path.write_text(f"""
[site]
name = "Strata test"
domain = "localhost"
var_dir = "var"
{site}
[hosts.local]
address = "127.0.0.1"

[roles.web]
hosts = ["local"]
http_port = {http}
https_port = {https}
workers = 1
{web}
[roles.app]
hosts = ["local"]
instances = {instances}
port = {app_port}
events_port = {events}
workers = {workers}
{app}
[roles.db]
hosts = ["local"]
port = {db}
{extra}
""")
    return path


def make_root(prefix: str) -> Path:
    """Return a fresh temp dir the service users can traverse."""
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

    def call(self, function: Callable[..., Any], *args: Any, timeout: float = 300, **kwargs: Any) -> Any:
        """Run FUNCTION (a module-level function, e.g. of tests.support.in_site) with ARGS and KWARGS in the
        site's Django; return what it returned, through JSON."""
        env = {"PYTHONPATH": str(REPO), CALL_ENV: json.dumps(call_spec(function, args, kwargs))}
        out = _CallContext(self.ctx(), env).manage(
            "shell",
            "--no-imports",
            "-c",
            CALL_BOOTSTRAP,
            what=f"in the site: {function.__name__}",
            timeout=timeout,
        )
        return call_result(out)

    def manage(self, *args: str) -> str:
        """Run a Django management command of the site; return its output."""
        return self.ctx().manage(*args)


class _CallContext(HostContext):
    """The stack's host, with what one Stack.call needs added to the site's environment."""

    def __init__(self, ctx: HostContext, extra_env: dict[str, str]):
        super().__init__(ctx.config, ctx.secrets, ctx.host)
        self.extra_env = extra_env

    def django_env(self) -> dict[str, str]:
        env = {**super().django_env(), **self.extra_env}
        if self.config.code_dir:
            # The site's release first (site.code_dir), then this repository for tests.support.
            env["PYTHONPATH"] = f"{self.code}:{REPO}"
        return env


@contextlib.contextmanager
def running_stack(
    prefix: str,
    extra: str = "",
    instances: int = 2,
    web: str = "",
    root: Path | None = None,
    app: str = "",
    site: str = "",
    workers: int = 2,
):
    """Start a stack in a fresh temp dir (or ROOT, made by make_root); always stop it and remove the dir."""
    require_servers()
    root = root or make_root(prefix)
    path = write_topology(
        root, instances=instances, extra=extra, web=web, app=app, site=site, workers=workers
    )
    try:
        result = deploy.up(path)
        config = cfgmod.load(path)
        yield Stack(root, config, cfgmod.load_secrets(config), result)
    finally:
        try:
            deploy.down(path)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def files_role_toml() -> str:
    """Return the files role (SeaweedFS) on the local host, on free ports."""
    s3, internal = free_ports(1, 9)
    return f'\n[roles.files]\nhosts = ["local"]\nport = {s3}\ninternal_port = {internal}\npart_mb = 5\n'


def comms_role_toml(**options) -> str:
    """Return the comms role (Postfix) on the local host, on a free port, with OPTIONS."""
    (smtp,) = free_ports(1)
    return _role("comms", port=smtp, **options)


def domain_role_toml(**options) -> str:
    """Return the domain role (slapd) on the local host, on a free port, with OPTIONS."""
    (ldap,) = free_ports(1)
    return _role("domain", port=ldap, **options)


def _role(name: str, **options) -> str:
    lines = [f"\n[roles.{name}]", 'hosts = ["local"]']
    lines += [f"{k} = {_toml_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(v)


def all_optional_roles_toml() -> str:
    """Return the three optional roles on the local host, on free ports (the default `make up` topology)."""
    return files_role_toml() + comms_role_toml() + domain_role_toml()


def strata(
    stack: Stack, *args: str, stdin: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the `strata` CLI against STACK's config."""
    return subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(stack.config.path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def drill(stack: Stack, report_dir: Path, *names: str, seconds: float = 3) -> dict[str, dict[str, Any]]:
    """Run `strata drill NAMES` against STACK, assert each passed, return each drill's JSON result by name."""
    proc = strata(stack, "drill", *names, "--seconds", str(seconds), "--report-dir", str(report_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)  # the figures (pytest -rP shows them)
    for name in names:
        assert f"{name}: pass" in proc.stdout, proc.stdout
    (record,) = [json.loads(line) for line in (report_dir / "history.jsonl").read_text().splitlines()]
    return {r["drill"]: r for r in record["results"]}


def ok(stack: Stack, *args: str, stdin: str | None = None) -> str:
    """Run the `strata` CLI, assert it succeeded, return its output."""
    proc = strata(stack, *args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def add_people(stack: Stack, people: list[dict], groups: dict[str, list[str]] | None = None) -> None:
    """Add PEOPLE (dicts of `strata users import` columns: username, password, first_name, ...) in one
    import, then each group with its members."""
    columns = list(dict.fromkeys(k for row in people for k in row))
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in people]
    csv = stack.root / "people-import.csv"
    csv.write_text("\n".join(lines) + "\n")
    try:
        ok(stack, "users", "import", str(csv))
    finally:
        csv.unlink()
    for group, members in (groups or {}).items():
        ok(stack, "groups", "add", group)
        for member in members:
            ok(stack, "groups", "add-member", group, member)


def descendants(pid: int) -> set[int]:
    """Return PID and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo += children.get(p, [])
    return out
