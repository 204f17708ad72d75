"""`strata upgrade`: move the site on this machine onto the release site.code_dir names, no request failed.

The order (README "Upgrades"): check the pending migrations against the expand/contract rule with the new
release's code (strata.ops.migration_plan), refuse before anything changes when one is a contract step;
migrate once; collect the static files next to the old ones; then, one app server at a time, take it out of
nginx's pool (upstream `down`, graceful reload), wait for its in-flight requests, restart it on its newly
rendered supervisor config, wait for its /healthz and put it back; the other Python programs (event server,
metrics, helpers) follow and the task worker comes last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy.config import AppInstance
from strata.deploy.local import _local, host_programs
from strata.deploy.render import listen_address
from strata.deploy.roles.app.client import cafile_of, get_healthz
from strata.deploy.roles.base import HostContext, Program, all_roles
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError

Step = Callable[[str], None]
WORKER = "worker"  # restarted last: it may be running a task the old release enqueued


class MigrationRefused(Exception):
    """A pending migration the running release would not tolerate: nothing was changed."""


@dataclass
class UpgradeResult:
    code: str
    migrations: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    # Programs whose rendered config changed for another reason than the code: left for `strata up`.
    left: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Seconds each app server was out of nginx's pool.
    drained_s: dict[str, float] = field(default_factory=dict)


def _quiet(_msg: str) -> None:
    pass


def migration_plan(ctx: HostContext) -> list[dict]:
    """Return the pending migrations of ctx's release, each operation with why it is refused ("" if not)."""
    out = ctx.manage("strata_migration_plan", what="listing the pending migrations", timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def check_plan(plan: list[dict]) -> None:
    """Raise MigrationRefused naming the first migration and operation a rolling upgrade may not run."""
    for migration in plan:
        for op in migration["operations"]:
            if op["refused"]:
                raise MigrationRefused(f"{migration['migration']}: {op['operation']} {op['refused']}")


def established(address: str, port: int, proc: str = "/proc") -> int:
    """Return how many TCP connections to ADDRESS:PORT are established (in flight or kept alive): the
    server's side of each, from PROC/net/tcp and tcp6 (PROC: /proc/<pid> reads the network namespace
    of that process, a lab host's from the lab's control)."""
    state_established = "01"
    count = 0
    for table in (f"{proc}/net/tcp", f"{proc}/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state_established:
                count += 1
    return count


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _wait(what: str, done: Callable[[], bool], timeout: float) -> float:
    """Wait until DONE() is true; return the seconds it took, or raise DeployError naming WHAT."""
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise DeployError(f"{what} within {timeout:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - t0


class _Pool:
    """nginx's app-server pool on this machine: which servers are down, applied by a graceful reload."""

    def __init__(self, sup: Supervisor, web_ctx: HostContext):
        self.sup, self.ctx, self.web = sup, web_ctx, all_roles()["web"]

    def set(self, drained: frozenset[str]) -> None:
        """Render nginx.conf with DRAINED down and reload; return once new workers (the new pool) serve."""
        master = self.sup.pid("web")
        if not master:
            raise DeployError("strata upgrade: nginx (program web) is not running here: run `strata up`")
        before = _children(master)
        self.web.render_pool(self.ctx, drained)  # type: ignore[attr-defined]
        self.web.reload(self.ctx)  # type: ignore[attr-defined]
        _wait("nginx did not start workers with the new pool", lambda: bool(_children(master) - before), 30)


def _python_programs(ctxs: list[HostContext], programs: list[Program]) -> list[str]:
    """Return the programs that run the release's code (they start in its directory), worker last."""
    codes = {str(c.code) for c in ctxs}
    names = [p.name for p in programs if p.directory in codes]
    return sorted(names, key=lambda n: n == WORKER)


def _idle(inst: AppInstance) -> bool:
    return established(inst.host.address, inst.port) == 0


def server_of(inst: AppInstance) -> str:
    """Return INST as nginx's upstream names it: "address:port"."""
    return f"{listen_address(inst.host.address)}:{inst.port}"


def healthy(config: cfgmod.Config, inst: AppInstance) -> bool:
    """Return whether INST answers /healthz several times in a row, each on a new connection: its workers
    share its accept queue, so more of them have answered (opened their database pool) before it takes
    the load."""
    cafile = cafile_of(config)
    try:
        for _ in range(2 * config.roles["app"]["workers"]):
            get_healthz(inst.host.address, inst.port, cafile=cafile)
    except Exception:  # noqa: BLE001 - not ready yet: asked again until the deadline
        return False
    return True


@dataclass
class Reach:
    """How a rolling upgrade acts on one app server: POOL(drained) renders nginx's pool with those servers
    down and reloads it; IDLE() is true once it has no connection left; RESTART() restarts it on its new
    config; HEALTHY() waits for its /healthz (raising DeployError). One host, or a lab from its control."""

    pool: Callable[[frozenset[str]], None]
    idle: Callable[[], bool]
    restart: Callable[[], None]
    healthy: Callable[[], None]


def roll(config: cfgmod.Config, inst: AppInstance, reach: Reach, drain_timeout: float, step: Step) -> float:
    """Take app server INST out of the pool, let it finish, restart it on its new config, wait for its
    /healthz, put it back; return the seconds it was out."""
    t0 = time.monotonic()
    reach.pool(frozenset({server_of(inst)}))
    step(f"{inst.name}: out of nginx's pool")
    try:
        waited = _wait(
            f"{inst.name} still had requests", reach.idle, drain_timeout or config.roles["app"]["timeout"] + 5
        )
        step(f"{inst.name}: idle after {waited:.1f}s")
    except DeployError as exc:
        # gunicorn finishes them on TERM anyway (graceful stop): said, not fatal.
        step(f"{inst.name}: {exc}; stopping it gracefully")
    try:
        reach.restart()
        step(f"{inst.name}: restarted")
        reach.healthy()
    except DeployError as exc:
        # Out of the pool it stays: the other servers answer meanwhile; `strata up` renders the full pool.
        raise DeployError(
            f"{exc}; {inst.name} is left out of nginx's pool, the next ones were not touched (fix it, then "
            "`strata upgrade` again, or `strata up`)"
        ) from None
    step(f"{inst.name}: healthy")
    reach.pool(frozenset())
    step(f"{inst.name}: back in the pool")
    return round(time.monotonic() - t0, 2)


def wait_healthy(config: cfgmod.Config, inst: AppInstance) -> None:
    """Wait for INST's /healthz (see healthy) or raise DeployError."""
    _wait(
        f"{inst.name} did not answer /healthz",
        lambda: healthy(config, inst),
        all_roles()["app"].ready_timeout,
    )


def migrate(ctx: HostContext, contract: bool, step: Step) -> list[str]:
    """Check the pending migrations of ctx's release (refuse a contract step unless CONTRACT), run them
    once; return their names."""
    plan = migration_plan(ctx)
    if contract:
        step("contract: every pending migration runs (no old code may be serving)")
    else:
        check_plan(plan)
    names = [m["migration"] for m in plan]
    if plan:
        step(f"migrate: {', '.join(names)}")
        ctx.manage("migrate", "--noinput", what="migrate", timeout=1800)
    else:
        step("migrate: nothing pending")
    return names


def collect_static(web_ctx: HostContext, step: Step) -> None:
    """Collect the release's static files, added to the old release's, not in place of them: pages the
    old servers render still find theirs."""
    web_ctx.manage("collectstatic", "--noinput", what="collectstatic")
    step("static files collected")


@dataclass
class Reread:
    """What the supervisor of one machine found in its newly rendered config."""

    python: list[str]  # the programs running the release's code, worker last
    left: list[str]  # changed for another reason than the code: left for `strata up`
    removed: list[str]


def reread(config: cfgmod.Config, sup: Supervisor, ctxs: list[HostContext]) -> Reread:
    """Render the supervisor config of CTXS' programs (the new release's) and have SUP read it."""
    programs = [p for c in ctxs for p in host_programs(config, c, all_roles())]
    sup.render(programs)
    added, changed, removed = sup.reread()
    python = _python_programs(ctxs, programs)
    return Reread(python, sorted(n for n in [*added, *changed] if n not in python), removed)


def finish_programs(config: cfgmod.Config, sup: Supervisor, done: Reread, step: Step) -> list[str]:
    """Restart the Python programs that are not app servers (worker last), remove the ones the release
    dropped; return the restarted."""
    instances = {i.name for i in config.app_instances()}
    restarted = []
    for name in [n for n in done.python if n not in instances]:
        sup.restart_with_config(name)
        step(f"{name}: restarted")
        restarted.append(name)
    for name in done.removed:
        sup.remove(name)
        step(f"{name}: removed (no longer in the release)")
    for name in done.left:
        step(f"{name}: its config changed too; not restarted here (run `strata up`)")
    return restarted


def local_context(path: str | Path | None, role: str) -> tuple[cfgmod.Config, HostContext]:
    """Return the topology and the context of ROLE's host on this machine, or raise DeployError."""
    config = cfgmod.load(path)
    secrets = cfgmod.load_secrets(config)
    ctxs = [HostContext(config, secrets, h) for h in _local(config) if role in config.roles_on(h.name)]
    if not ctxs:
        raise DeployError(f"strata upgrade: the {role} role does not run on this machine")
    return config, ctxs[0]


HOST_STEPS = ("migrate", "static", "reread", "pool", "healthz", "drain", "restart")


def drain(config: cfgmod.Config, instances: list[AppInstance], timeout: float, step: Step) -> dict:
    """Wait until INSTANCES (out of every pool) have no connection left, read on this machine; return the
    seconds each took. Not fatal when one still has some after TIMEOUT: gunicorn finishes them on TERM."""
    waited = {}
    for inst in instances:
        try:
            seconds = _wait(
                f"{inst.name} still had requests",
                partial(_idle, inst),
                timeout or config.roles["app"]["timeout"] + 5,
            )
            waited[inst.name] = round(seconds, 2)
            step(f"{inst.name}: idle after {waited[inst.name]}s")
        except DeployError as exc:
            step(f"{exc}; stopping it gracefully")
    return {"idle_s": waited}


def restart_here(config: cfgmod.Config, ctx: HostContext, step: Step) -> dict:
    """Restart every Python program of ctx's host on its newly rendered config (the release installed
    now): the app servers first (out of every pool: `strata deploy --rolling` drained them), the worker
    last; wait until the app role answers again. Return the restarted programs and the ones left."""
    sup = Supervisor(config.var_dir, config.log_dir)
    done = reread(config, sup, [ctx])
    restarted = []
    for inst in config.app_instances(ctx.host.name):
        sup.restart_with_config(inst.name)
        step(f"{inst.name}: restarted")
        restarted.append(inst.name)
    restarted += finish_programs(config, sup, done, step)
    all_roles()["app"].wait_ready(ctx)
    return {"restarted": restarted, "left": done.left}


def host_step(
    path: str | Path | None, name: str, servers: str, contract: bool, step: Step, drain_timeout: float = 0
) -> dict:
    """Run one step of a rolling upgrade driven from elsewhere (`strata lab upgrade`, `strata deploy
    --rolling`) on this machine; SERVERS: app servers as nginx names them ("address:port"),
    comma-separated (the pool's drained ones, or the ones to wait for). Return what the driver needs to
    know, as JSON-able data."""
    role = {"migrate": "app", "reread": "app", "drain": "app", "restart": "app"}.get(name, "web")
    config, ctx = local_context(path, role)
    named = [n for n in servers.split(",") if n]
    instances = {server_of(i): i for i in config.app_instances()}
    unknown = [n for n in named if n not in instances]
    if unknown:
        raise DeployError(f"strata upgrade: no app server at {unknown[0]} in {config.path}")
    sup = Supervisor(config.var_dir, config.log_dir)

    def static() -> dict:
        collect_static(ctx, step)
        return {}

    def pool() -> dict:
        _Pool(sup, ctx).set(frozenset(named))
        return {"drained": named}

    steps: dict[str, Callable[[], dict]] = {
        "migrate": lambda: {"code": str(ctx.code), "migrations": migrate(ctx, contract, step)},
        "static": static,
        "reread": lambda: asdict(reread(config, sup, [ctx])),
        "drain": lambda: drain(config, [instances[n] for n in named], drain_timeout, step),
        "restart": lambda: restart_here(config, ctx, step),
        "pool": pool,
    }
    if name in steps:
        return steps[name]()
    for n in named:
        wait_healthy(config, instances[n])
    return {"healthy": named}


def upgrade(
    path: str | Path | None = None, step: Step = _quiet, contract: bool = False, drain_timeout: float = 0
) -> UpgradeResult:
    """Upgrade the site on this machine to the release site.code_dir names now (see the module's doc);
    DRAIN_TIMEOUT: the most seconds to wait for an app server's requests (0: roles.app.timeout + 5)."""
    started = time.monotonic()
    config = cfgmod.load(path)
    secrets = cfgmod.load_secrets(config)
    ctxs = [HostContext(config, secrets, h) for h in _local(config)]
    app_ctxs = [c for c in ctxs if "app" in config.roles_on(c.host.name)]
    web_ctxs = [c for c in ctxs if "web" in config.roles_on(c.host.name)]
    if not app_ctxs or not web_ctxs:
        raise DeployError("strata upgrade needs the web and app roles on this machine (one-host deployment)")
    sup = Supervisor(config.var_dir, config.log_dir)
    if not sup.running():
        raise DeployError(f"nothing runs from {config.var_dir}: start the site with `strata up` first")
    ctx = app_ctxs[0]
    result = UpgradeResult(str(ctx.code))
    step(f"release: {ctx.code}")
    result.migrations = migrate(ctx, contract, step)
    collect_static(web_ctxs[0], step)
    done = reread(config, sup, ctxs)
    result.left = done.left

    pool = _Pool(sup, web_ctxs[0])
    local = {c.host.name for c in app_ctxs}
    for inst in [i for i in config.app_instances() if i.host.name in local]:
        reach = Reach(
            pool.set,
            partial(_idle, inst),
            partial(sup.restart_with_config, inst.name),
            partial(wait_healthy, config, inst),
        )
        result.drained_s[inst.name] = roll(config, inst, reach, drain_timeout, step)
        result.restarted.append(inst.name)
    result.restarted += finish_programs(config, sup, done, step)
    for c in app_ctxs:
        all_roles()["app"].wait_ready(c)
    result.seconds = round(time.monotonic() - started, 2)
    return result
