"""Server roles. Each role lives in its own folder: templates, validation, start command, health probe.

A role object works on one host (a HostContext). The deployer calls, for each role on the host:
prepare() -> render() -> validate() -> programs() started by the supervisor -> wait_ready() ->
after_start(). probe() is the protocol health check used by `strata status` and the status page.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from strata.deploy.config import ENV_VAR_DIR, FALLBACKS, Config, Host, port_bindings
from strata.deploy.system import DeployError, run


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    ms: float = 0.0


def timed(fn):
    """Run FN() -> detail; return Health, turning any OSError-like failure into a failed Health."""
    start = time.monotonic()
    try:
        detail = fn()
        return Health(True, detail or "ok", (time.monotonic() - start) * 1000)
    except Exception as exc:  # noqa: BLE001 - a probe reports every failure, it never raises
        return Health(False, f"{type(exc).__name__}: {exc}".strip()[:200], (time.monotonic() - start) * 1000)


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


class HostContext:
    """One host of the topology as seen by the deployer: config, secrets and the var/ layout."""

    def __init__(self, config: Config, secrets: dict, host: Host):
        self.config, self.secrets, self.host = config, secrets, host
        self.var = config.var_dir
        self.pki = self.var / "pki"
        self.static = self.var / "static"
        self.project = Path(__file__).resolve().parents[3]

    def etc(self, role: str) -> Path:
        return self.var / "etc" / role

    def run_dir(self, role: str) -> Path:
        return self.var / "run" / role

    def data(self, role: str) -> Path:
        return self.var / "data" / role

    def log(self, role: str) -> Path:
        return self.var / "log" / role

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
        return env

    def manage(self, *args: str, what: str | None = None, timeout: float = 300) -> str:
        """Run a Django management command for this site."""
        return run(
            [sys.executable, "-m", "django", *args],
            env=self.django_env(),
            what=what or f"manage.py {args[0]}",
            timeout=timeout,
        )


class Role:
    name: str = ""
    required: bool = False
    built: bool = True
    ready_timeout: float = 60
    # System users the role's servers run as; created (when root) before anything else.
    system_users: tuple[str, ...] = ()

    @property
    def fallback(self) -> str:
        return FALLBACKS.get(self.name, "")

    def ports(self, config: Config, host: Host) -> list[tuple[str, int]]:
        return [
            (key, port)
            for role, key, port, h in port_bindings(config)
            if role == self.name and h.name == host.name
        ]

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
        raise NotImplementedError

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


class UnbuiltRole(Role):
    """An optional role whose server is not part of Strata yet: its fallback is always in use."""

    built = False

    def __init__(self, name: str):
        self.name = name

    def probe(self, config, secrets, host):
        return Health(False, "not built yet")


def all_roles() -> dict[str, Role]:
    """Return every role by name; each folder strata/deploy/roles/<name>/ defines ROLE."""
    import importlib

    from strata.deploy.config import ROLE_NAMES

    return {name: importlib.import_module(f"strata.deploy.roles.{name}").ROLE for name in ROLE_NAMES}
