"""The deployer's API: init, up, down and status for the hosts of this machine.

The CLI (strata/deploy/cli/) only parses arguments and calls these functions; the tests call them too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import pki, stamps
from strata.deploy.config import ConfigError
from strata.deploy.roles.base import HostContext, Program, Role, all_roles
from strata.deploy.roles.db.role import FIRST_ADMIN
from strata.deploy.roles.monitor.role import node_exporter, prepare_node_exporter
from strata.deploy.roles.registry import START_ORDER
from strata.deploy.roles.web.spec import content_host
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError, ensure_system_user, make_dir, port_free

DEFAULT_TEMPLATE = Path(__file__).parent / "default.toml"

Step = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass
class UpResult:
    url: str
    ca_cert: Path
    admin_username: str
    admin_password: str | None  # set only when the account was created by this run
    fallbacks: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    # What this run changed on the machine (empty: everything was already in place); Ansible reads it.
    changed: list[str] = field(default_factory=list)


def ca_scope(config: cfgmod.Config) -> pki.CaScope:
    """Return what the site's CA may sign for: the site's domain and its subdomains, localhost, the content
    host, and the address of every host plus loopback (its name constraints)."""
    names = [config.site["domain"], "localhost"]
    addresses = [*(h.address for h in config.hosts.values()), "127.0.0.1", "::1"]
    content = content_host(config)
    if pki.CaScope.of(names, addresses).permits([content], []):
        # A content host outside the site's domain (e.g. another registrable name): named on its own.
        names.append(content)
    return pki.CaScope.of(names, addresses)


def default_topology(site: dict[str, str] | None = None) -> str:
    """Return the default strata.toml with SITE's values (e.g. var_dir, log_dir) in place of the
    template's own, comments kept."""
    text = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    for key, value in (site or {}).items():
        # json.dumps quotes like a TOML basic string (the loaded file is validated as usual); the comment
        # after the value keeps its column when the new value fits before it.
        def line(m: re.Match, key: str = key, value: str = value) -> str:
            new = f"{key} = {json.dumps(value)}"
            return new + " " * max(1, len(m.group(0)) - len(new))

        text, n = re.subn(rf'^{re.escape(key)} = "[^"]*" *', line, text, count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"site.{key} is not a string key of {DEFAULT_TEMPLATE.name}")
    return text


def init(
    path: str | os.PathLike[str] | None = None, site: dict[str, str] | None = None
) -> tuple[cfgmod.Config, list[str]]:
    """Write the default strata.toml if missing (with SITE's values, e.g. the install layout's var_dir
    and log_dir), then the local CA (constrained to the topology) and the secrets; return what changed.
    On a host deployed from a control machine (it holds secrets but no CA key) nothing is made: the host
    checks what it received."""
    p = cfgmod.config_path(path)
    changes = []
    if not p.exists():
        if not p.parent.exists():
            make_dir(p.parent, None, 0o755)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.new")
        tmp.write_text(default_topology(site), encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
        changes.append(f"wrote {p}")
    config = cfgmod.load(p)
    if cfgmod.is_deployed_host(config):
        return config, changes
    make_dir(config.var_dir, None, 0o755)
    make_dir(config.log_dir, None, 0o755)
    # The CA first: a var/ holding secrets but no CA key is a deployed host's.
    ca = config.var_dir / "pki"
    if pki.ensure_ca(ca, config.site["name"], ca_scope(config)):
        changes.append(f"created the local CA {ca / 'ca.crt'}")
    elif pki.constrain_ca(ca, ca_scope(config)):
        changes.append(
            f"re-issued the local CA certificate {ca / 'ca.crt'} with the same key: its name constraints "
            f"now name this topology's domain and addresses (re-import it into browsers to get them)"
        )
    _, added = cfgmod.ensure_secrets(config)
    if added:
        changes.append(f"generated {len(added)} secret(s) in {config.secrets_path} (mode 0600)")
    return config, changes


def _local(config: cfgmod.Config) -> list[cfgmod.Host]:
    hosts = config.local_hosts()
    if not hosts:
        raise DeployError(
            f"{config.path}: no host of the topology is on this machine (no loopback "
            f"address; set STRATA_HOST to choose one)"
        )
    return hosts


def _roles_here(config: cfgmod.Config, host: cfgmod.Host, roles: dict[str, Role]) -> list[Role]:
    return [roles[r] for r in START_ORDER if r in config.roles_on(host.name)]


def preflight_ports(config: cfgmod.Config, running: set[str]) -> None:
    """Refuse to start when a port the topology needs on this machine is taken by someone else."""
    roles = all_roles()
    for host in _local(config):
        for role in _roles_here(config, host, roles):
            mine = [*role.programs_for_ports(config, host), *node_exporter(HostContext(config, {}, host))]
            ours = {port for p in mine if p.name in running for port in p.ports}
            for key, port in role.ports(config, host):
                if port not in ours and not port_free(host.address, port):
                    raise ConfigError(
                        config.path,
                        key,
                        f"port {port} on {host.address} is already in use by another process",
                    )


def up(path: str | os.PathLike[str] | None = None, step: Step = _quiet) -> UpResult:
    """Bring up every role placed on this machine's hosts, in START_ORDER (each role after the roles it
    depends on); safe to run again."""
    config = cfgmod.load(path)  # ConfigError: nothing has been touched yet
    stamps.code_digest.cache_clear()  # once per run: the code may have changed since the last one
    sup = Supervisor(config.var_dir, config.log_dir)
    roles = all_roles()
    for host in _local(config):
        for role in _roles_here(config, host, roles):
            for user in role.system_users:
                ensure_system_user(user)
    preflight_ports(config, sup.running_programs())

    step("config and secrets")
    config, init_changes = init(config.path)
    secrets = cfgmod.load_secrets(config)
    ctxs = [HostContext(config, secrets, h) for h in _local(config)]
    result = UpResult(config.url(), config.var_dir / "pki" / "ca.crt", config.site["admin_username"], None)
    result.changed += init_changes
    _configure(config, ctxs, roles, sup, result, step)
    for ctx in ctxs:
        for p in node_exporter(ctx):
            if not sup.is_running(p.name):
                result.changed.append(f"started {p.name}")
            sup.start(p.name)
            result.started.append(p.name)
    for name in START_ORDER:
        _start(config, ctxs, roles[name], sup, result, step)
        result.changed += roles[name].after_ready_once(ctxs, step)
    if FIRST_ADMIN in result.changed:
        # None on a deployed host: the password stays on the control machine, which prints it.
        result.admin_password = secrets.get("admin_password")
    for name in cfgmod.OPTIONAL_ROLES:
        if not config.enabled(name) and roles[name].fallback:
            result.fallbacks[name] = roles[name].fallback
    return result


# Each program's environment carries a digest of what its role's servers read (rendered configs, their
# certificates, their secrets): when one changes (a rotated secret or certificate, a new option), the
# supervisor's config changes and `supervisorctl update` stops the program, which `up` starts again.
INPUTS_ENV = "STRATA_INPUTS"
_DERIVED = (".db", ".lmdb", ".cdb")  # Postfix's compiled maps follow their text source


def inputs_digest(role: Role, ctx: HostContext) -> str:
    """Return a short digest of ROLE's inputs on ctx's host (no secret can be recovered from it)."""
    h = hashlib.sha256()
    etc = ctx.etc(role.name)
    files = sorted(p for p in etc.rglob("*") if p.is_file() and not p.name.endswith(_DERIVED))
    certs = role.certificates(ctx.config, ctx.host)
    files += [ctx.pki / "ca.crt", *(ctx.pki / f"{r.stem}.crt" for r in certs)]
    for f in files:
        if f.exists():
            h.update(str(f).encode() + b"\0" + f.read_bytes() + b"\0")
    for key in role.spec.secrets:
        h.update(key.encode() + b"=" + str(ctx.secrets.get(key, "")).encode() + b"\0")
    return h.hexdigest()[:16]


def host_programs(config: cfgmod.Config, ctx: HostContext, roles: dict[str, Role]) -> list[Program]:
    """Return the supervisor's programs of ctx's host, as rendered now (each with its inputs' digest)."""
    programs: list[Program] = []
    for role in _roles_here(config, ctx.host, roles):
        inputs = inputs_digest(role, ctx)
        for program in role.programs(ctx):
            program.environment[INPUTS_ENV] = inputs
            programs.append(program)
    return programs + node_exporter(ctx)


def _configure(
    config: cfgmod.Config,
    ctxs: list[HostContext],
    roles: dict[str, Role],
    sup: Supervisor,
    result: UpResult,
    step: Step,
) -> None:
    """Prepare, render and validate every role of this machine; start the supervisor with its programs."""
    programs: list[Program] = []
    for ctx in ctxs:
        for role in _roles_here(config, ctx.host, roles):
            step(f"{role.name}: prepare, render and validate on {ctx.host.name}")
            role.prepare(ctx)
            role.render(ctx)
            role.validate(ctx)
        # Not a role's: the host's own metrics (while the monitor role is enabled).
        prepare_node_exporter(ctx)
        programs += host_programs(config, ctx, roles)
    if sup.render(programs) or not sup.running():
        result.changed.append("supervisor config")
    step("supervisor")
    sup.start_daemon()


def _start(
    config: cfgmod.Config, ctxs: list[HostContext], role: Role, sup: Supervisor, result: UpResult, step: Step
) -> None:
    """Start ROLE's programs on this machine's hosts that hold it, then wait for each to be ready."""
    here = [ctx for ctx in ctxs if role.name in config.roles_on(ctx.host.name)]
    for ctx in here:
        step(f"{role.name}: start on {ctx.host.name}")
        for p in role.programs(ctx):
            if not sup.is_running(p.name):
                result.changed.append(f"started {p.name}")
            sup.start(p.name)
            result.started.append(p.name)
    for ctx in here:
        role.wait_ready(ctx)
        role.after_start(ctx)


def down(path: str | os.PathLike[str] | None = None) -> bool:
    """Stop every program and the supervisor of this machine; return False if nothing ran."""
    try:
        var = cfgmod.load(path).var_dir
    except ConfigError:
        # A config edited into an invalid state must not keep the running stack from stopping.
        var = cfgmod.var_dir_lenient(path)
    return Supervisor(var).shutdown()


def _db_here(config: cfgmod.Config, secrets: dict) -> HostContext:
    db_host = config.host_of("db")
    if db_host.name not in {h.name for h in _local(config)}:
        raise DeployError(
            f"run this on the db host {db_host.name} ({db_host.address}): pgBackRest lives there"
        )
    return HostContext(config, secrets, db_host)


def pitr_repo(path: str | os.PathLike[str] | None = None):
    """Return the db host's pgBackRest repository (this machine must run the db host), or None when
    point-in-time recovery is off."""
    from strata.deploy.roles.db import pitr

    config = cfgmod.load(path)
    if not pitr.enabled(config):
        return None
    ctx = _db_here(config, cfgmod.load_secrets(config))
    return all_roles()["db"].pitr_repo(ctx)  # type: ignore[attr-defined]


@dataclass
class PitrResult:
    target: str
    seconds: float
    backup: str
    # Seconds of each phase: stop, restore (pgBackRest), replay (start to promoted), start (app ready).
    phases: dict[str, float] = field(default_factory=dict)


def restore_to(path: str | os.PathLike[str] | None, when: str, step: Step = _quiet) -> PitrResult:
    """Bring the database back to WHEN (UTC) with pgBackRest, on the db host: stop this machine's app
    servers and worker and PostgreSQL, restore the newest full backup before WHEN and replay the archived
    WAL up to WHEN, promote, then start everything again. App servers on other hosts keep running and
    reconnect by themselves. File objects need nothing: none is deleted before the retention window ends,
    so every row of that moment finds its bytes."""
    import datetime as dt
    import time

    from strata.deploy.roles.db import pitr

    started = time.monotonic()
    target = pitr.parse_target(when)
    config = cfgmod.load(path)
    if not pitr.enabled(config):
        raise pitr.PitrError("point-in-time recovery is off: set pitr = true under [roles.files]")
    if target > dt.datetime.now(dt.UTC):
        raise pitr.PitrError(f"{when} is in the future")
    secrets = cfgmod.load_secrets(config)
    ctx = _db_here(config, secrets)
    db = all_roles()["db"]
    repo = db.pitr_repo(ctx)  # type: ignore[attr-defined]
    usable = [b for b in repo.backups() if b["timestamp"]["stop"] < target.timestamp()]
    if not usable:
        raise pitr.PitrError(
            f"no full backup finished before {when}: the earliest moment to restore to is after the first "
            "full backup (see `strata backup`)"
        )
    sup = Supervisor(config.var_dir, config.log_dir)
    roles = all_roles()
    ctxs = [HostContext(config, secrets, h) for h in _local(config)]
    app_ctxs = [c for c in ctxs if "app" in config.roles_on(c.host.name)]
    apps = [p.name for c in app_ctxs for p in roles["app"].programs(c)]
    elsewhere = sorted({h.name for h in config.hosts_of("app")} - {c.host.name for c in app_ctxs})
    if elsewhere:
        # PostgreSQL refuses every connection until it has promoted (hot_standby off): their pages answer
        # 503 with Retry-After meanwhile, and their in-memory caches start empty when they reconnect.
        step(
            f"the app servers of {', '.join(elsewhere)} keep running: they answer 503 until the restore ends"
        )
    step(f"stopping {'the app servers, the worker and ' if apps else ''}PostgreSQL")
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        phases[name] = time.monotonic() - mark
        mark = time.monotonic()

    for name in [*apps, "db-pitr", "db"]:
        sup.stop(name)
    phase("stop")
    try:
        step(f"restoring the database to {target:%Y-%m-%d %H:%M:%S} UTC")
        repo.run(
            "restore",
            "--delta",
            "--type=time",
            f"--target={target:%Y-%m-%d %H:%M:%S}+00",
            "--target-action=promote",
        )
        phase("restore")
    finally:
        sup.start("db")
        db.wait_ready(ctx)
        _wait_promoted(db, ctx)
        phase("replay")
        sup.start("db-pitr")
        for name in apps:
            sup.start(name)
        if app_ctxs:
            roles["app"].wait_ready(app_ctxs[0])
        phase("start")
    return PitrResult(f"{target:%Y-%m-%d %H:%M:%S}", time.monotonic() - started, usable[-1]["label"], phases)


def _wait_promoted(db: Role, ctx: HostContext, timeout: float = 600) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            with db._superuser(ctx) as conn:  # type: ignore[attr-defined]
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return
        except Exception as exc:  # noqa: BLE001 - connection refused while it replays: try again
            if time.monotonic() > deadline:
                raise DeployError(f"PostgreSQL did not finish its recovery: {exc}") from None
        if time.monotonic() > deadline:
            raise DeployError("PostgreSQL did not finish its recovery in time")
        time.sleep(0.2)
