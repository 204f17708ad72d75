"""The deployer's side of a role: the Role lifecycle, the host it works on and the programs it runs.

A role object works on one host (a HostContext). The deployer calls, for each role on the host:
prepare() -> render() -> validate() -> programs() started by the supervisor -> wait_ready() ->
after_start(), then once per run after_ready_once() with every host of this machine. probe() is the
protocol health check (the role's client.py) used by `strata up` to wait for it.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from strata.deploy import pki, stamps
from strata.deploy.config import ENV_VAR_DIR, Config, Host, port_bindings
from strata.deploy.roles.probe import Health
from strata.deploy.roles.registry import SPECS, probe_of
from strata.deploy.roles.spec import RoleSpec
from strata.deploy.system import DeployError, make_dir, run


@dataclass
class Program:
    """A long-running process under the host's supervisor."""

    name: str
    role: str
    command: list[str]
    user: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    directory: str = "/"
    stopsignal: str = "TERM"
    stopwaitsecs: int = 30
    startsecs: int = 1
    ports: list[int] = field(default_factory=list)
    # supervisord's order: a lower priority stops after the others (when the host's supervisor shuts down).
    priority: int = 999


class HostContext:
    """One host of the topology as seen by the deployer: config, secrets and the var/ layout."""

    def __init__(self, config: Config, secrets: dict, host: Host):
        self.config, self.secrets, self.host = config, secrets, host
        self.var = config.var_dir
        self.log_root = config.log_dir
        self.pki = self.var / "pki"
        self.static = self.var / "static"
        self.project = Path(__file__).resolve().parents[3]
        # The release the site's Python programs import strata from (site.code_dir, resolved now).
        self.code = config.code_dir or self.project

    def etc(self, role: str) -> Path:
        return self.var / "etc" / role

    def run_dir(self, role: str) -> Path:
        return self.var / "run" / role

    def data(self, role: str) -> Path:
        return self.var / "data" / role

    def log(self, role: str) -> Path:
        return self.log_root / role

    @property
    def venv_bin(self) -> Path:
        return Path(sys.executable).parent

    def django_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", ENV_VAR_DIR)}
        env.update(
            DJANGO_SETTINGS_MODULE="strata.site.settings",
            STRATA_CONFIG=str(self.config.path),
            STRATA_HOST=self.host.name,
            PYTHONDONTWRITEBYTECODE="1",
        )
        if self.config.code_dir:
            env["PYTHONPATH"] = str(self.code)
        return env

    def code_env(self) -> dict[str, str]:
        """Return the environment of a helper program that imports strata without Django: the release."""
        return {"PYTHONPATH": str(self.code), "PYTHONDONTWRITEBYTECODE": "1"}

    def manage(self, *args: str, what: str | None = None, timeout: float = 300) -> str:
        """Run a Django management command for this site."""
        return run(
            [sys.executable, "-m", "django", *args],
            env=self.django_env(),
            what=what or f"manage.py {args[0]}",
            timeout=timeout,
            # `python -m` imports from its working directory first: the release's, when one is named.
            cwd=self.code if self.config.code_dir else None,
        )

    def manage_unless_fresh(
        self,
        stamp: str,
        state: Callable[[], list[str]],
        *args: str,
        what: str | None = None,
        timeout: float = 300,
    ) -> str | None:
        """Run a Django management command (ARGS) unless it last succeeded on this host with the same
        code, packages, config, secrets and STATE() (what it leaves behind, read before the command and
        again after it: strata.deploy.stamps); return its output, or None when skipped."""
        mark = stamps.Stamp(self.var, f"{self.host.name}-{stamp}")
        if mark.fresh(self.stamp_inputs(state())):
            return None
        mark.forget()  # a failure below must not leave an old stamp that matches again later
        out = self.manage(*args, what=what, timeout=timeout)
        mark.write(self.stamp_inputs(state()))
        return out

    def stamp_inputs(self, state: list[str]) -> str:
        """Return the digest of what this host's management commands read, plus STATE."""
        secrets = [f"{k}={v}" for k, v in sorted(self.secrets.items())]
        return stamps.digest(
            [stamps.code_digest(self.code), self.config.path.read_bytes(), *secrets, "\0", *state]
        )


class Role:
    name: str = ""
    ready_timeout: float = 60
    # System users the role's servers run as; created (when root) before anything else.
    system_users: tuple[str, ...] = ()

    @property
    def spec(self) -> RoleSpec:
        return SPECS[self.name]

    @property
    def required(self) -> bool:
        return self.spec.required

    @property
    def fallback(self) -> str:
        return self.spec.fallback

    def require_binary(self, path: str, package: str) -> None:
        """Raise DeployError unless the server's executable PATH is installed (its Debian PACKAGE)."""
        if not shutil.which(path):
            raise DeployError(f"{package} is not installed ({path} missing): run `make up`")

    def make_dirs(self, ctx: HostContext, user: str | None, *kinds: str) -> None:
        """Create the role's var/ directories of KINDS ("etc", "log", "run", "data"): etc and log are
        root's (mode 0755), run (0755) and data (0700) belong to USER."""
        for kind in kinds:
            if kind == "etc":
                make_dir(ctx.etc(self.name), None, 0o755)
            elif kind == "log":
                make_dir(ctx.log(self.name), None, 0o755)
            elif kind == "run":
                make_dir(ctx.run_dir(self.name), user, 0o755)
            else:
                make_dir(ctx.data(self.name), user, 0o700)

    def ports(self, config: Config, host: Host) -> list[tuple[str, int]]:
        return [
            (key, port)
            for role, key, port, h in port_bindings(config)
            if role == self.name and h.name == host.name
        ]

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        """The server certificates this role needs on HOST (issued from the site CA)."""
        return []

    def ensure_certificates(self, ctx: HostContext) -> None:
        """Issue (or keep, while valid) the role's certificates on ctx's host when it holds the CA's key
        (one machine: `make up`); on a host deployed from a control machine, check the ones it received
        and raise DeployError when one does not serve."""
        has_ca_key = (ctx.pki / "ca.key").exists()
        for req in self.certificates(ctx.config, ctx.host):
            if has_ca_key:
                pki.ensure_server_cert(
                    ctx.pki, req.stem, list(req.names), list(req.addresses), client_auth=req.client_auth
                )
                continue
            problem = pki.check_server_cert(ctx.pki, req) if (ctx.pki / "ca.crt").exists() else "is missing"
            if problem:
                wanted = ", ".join([*req.names, *req.addresses])
                raise DeployError(
                    f"{ctx.pki / (req.stem + '.crt')} {problem} (wanted: {wanted}; the CA key stays on the "
                    f"control machine): run `strata deploy` from the control machine"
                )

    def prepare(self, ctx: HostContext) -> None:
        """Create directories, users, data and certificates this role needs on the host."""

    def render(self, ctx: HostContext) -> None:
        """Write the role's config files under var/etc/<role>/."""

    def validate(self, ctx: HostContext) -> None:
        """Check the rendered config with the server's own checker; raise DeployError."""

    def programs(self, ctx: HostContext) -> list[Program]:
        return []

    def programs_for_ports(self, config: Config, host: Host) -> list[Program]:
        """The programs and the ports they listen on, without touching the disk (for the port check)."""
        return self.programs(HostContext(config, {}, host))

    def probe(self, config: Config, secrets: dict, host: Host) -> Health:
        """Probe the role's server on HOST with its protocol (the role's client.probe)."""
        return probe_of(self.name)(config, secrets, host)

    def ready_probe(self, ctx: HostContext) -> Health:
        return self.probe(ctx.config, ctx.secrets, ctx.host)

    def wait_ready(self, ctx: HostContext) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            health = self.ready_probe(ctx)
            if health.ok:
                return
            if time.monotonic() > deadline:
                raise DeployError(
                    f"{self.name} on {ctx.host.name} did not become healthy in "
                    f"{self.ready_timeout:.0f}s: {health.detail} (logs: {ctx.log(self.name)})"
                )
            time.sleep(0.2)

    def after_start(self, ctx: HostContext) -> None:
        """Run one-time set-up that needs the role's server running."""

    def after_ready_once(self, ctxs: list[HostContext], step: Callable[[str], None]) -> list[str]:
        """Run, once per `up` and whether or not this machine runs the role, what must follow the role's
        readiness on one of CTXS (this machine's hosts) before the next roles start; return what
        changed."""
        return []


def all_roles() -> dict[str, Role]:
    """Return every role by name; each folder strata/deploy/roles/<name>/role.py defines ROLE."""
    return {name: importlib.import_module(f"strata.deploy.roles.{name}.role").ROLE for name in SPECS}
