"""Build and tear down a lab: namespaces, a bridge, veth pairs, firewalls, and each host's `strata up`.

The lab's state (names, addresses) is written to DIR/lab.json before anything is created, so `down` can
remove whatever exists even after a crash half-way through `up`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import control, firewall
from strata.deploy.config import ConfigError
from strata.deploy.lab import topology
from strata.deploy.roles.files.spec import names_to_resolve
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError

STATE = "lab.json"
CONFIG = "strata.toml"
# `ip netns exec NS` mounts each file of /etc/netns/NS/ over its namesake in /etc.
NETNS_ETC = Path("/etc/netns")
Step = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass
class LabHost:
    name: str
    address: str
    netns: str
    veth: str  # the root namespace's end; the host's end is eth0 inside its namespace
    var: str


@dataclass
class Lab:
    dir: str
    suffix: str
    subnet: str
    bridge: str
    bridge_address: str
    hosts: dict[str, LabHost]
    up: bool = False

    @property
    def config_path(self) -> Path:
        return Path(self.dir) / CONFIG

    @property
    def shared(self) -> Path:
        """The lab's control machine: the site's secrets and CA (site.var_dir of the lab's topology), made
        once; each host gets its own bundle from hosts/<host>/ here. The root namespace's probes use it."""
        return self.config().var_dir

    def config(self) -> cfgmod.Config:
        return cfgmod.load(self.config_path)

    def save(self) -> None:
        path = Path(self.dir) / STATE
        tmp = path.with_name(STATE + ".new")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)

    def ca(self) -> Path:
        return self.shared / "pki" / "ca.crt"

    def host_env(self, host: str) -> dict[str, str]:
        """Return the environment a command of HOST runs with: its var/ tree and its roles only."""
        return {
            **os.environ,
            cfgmod.ENV_HOST: host,
            cfgmod.ENV_VAR_DIR: self.hosts[host].var,
            cfgmod.ENV_CONFIG: str(self.config_path),
        }

    def run_in(
        self,
        host: str,
        argv: list[str],
        *,
        input: str | None = None,
        timeout: float = 600,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run ARGV inside HOST's namespace with HOST's environment."""
        proc = subprocess.run(
            ["ip", "netns", "exec", self.hosts[host].netns, *argv],
            input=input,
            env=self.host_env(host),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            text = proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}"
            lines = text.splitlines()
            raise DeployError(f"lab host {host}: `{' '.join(argv[-2:])}` failed: {lines[-1].strip()}")
        return proc

    def strata(self, host: str, *args: str, **kw) -> subprocess.CompletedProcess:
        """Run the strata CLI for the lab's topology inside HOST's namespace."""
        return self.run_in(
            host, [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(self.config_path), *args], **kw
        )

    def supervisor(self, host: str) -> Supervisor:
        return Supervisor(Path(self.hosts[host].var))


def load(lab_dir: str | os.PathLike) -> Lab | None:
    """Return the lab recorded in LAB_DIR, or None."""
    path = Path(lab_dir).resolve() / STATE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(path, "", f"cannot read the lab's state: {exc}") from None
    data["hosts"] = {k: LabHost(**v) for k, v in data["hosts"].items()}
    return Lab(**data)


def for_config(config: cfgmod.Config) -> Lab | None:
    """Return the running lab whose topology CONFIG is (`strata status` on a lab host), else None."""
    lab = load(config.path.parent) if (config.path.parent / STATE).exists() else None
    if lab is None or not lab.up or lab.config_path != config.path.resolve() or os.geteuid() != 0:
        return None
    return lab


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise DeployError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def start_groups(config: cfgmod.Config) -> list[list[str]]:
    """Return the hosts in start order, in groups that start together. Only the app depends on another
    role at start: the first app host migrates the database once the db host is up, and the other app
    hosts start after it. Every other host starts in the first group (nginx, Postfix, slapd and SeaweedFS
    wait for nobody)."""
    first_app = config.hosts_of("app")[0].name
    keys = {}
    for name in config.hosts:
        roles = config.roles_on(name)
        if roles:
            keys[name] = 0 if "app" not in roles else 1 if name == first_app else 2
    db_host = config.host_of("db").name
    if keys[db_host] == 2:
        raise ConfigError(
            config.path,
            "roles.app.hosts",
            f"the db host {db_host} runs an app server too: "
            f"list {db_host} first, so that it migrates the database before the other app "
            f"hosts start",
        )
    return [[h for h in keys if keys[h] == k] for k in sorted(set(keys.values()))]


def up(
    lab_dir: str | os.PathLike,
    topology_file: str | os.PathLike | None = None,
    *,
    options: dict | None = None,
    site: dict | None = None,
    app_hosts: int = 2,
    step: Step = _quiet,
) -> Lab:
    """Build the lab in LAB_DIR and start every host's roles; tear it all down again if anything fails.

    Without TOPOLOGY_FILE the default lab is written (each role on its own host, APP_HOSTS app hosts;
    OPTIONS overrides role options, SITE [site] keys)."""
    if os.geteuid() != 0:
        raise DeployError("the lab needs root (network namespaces, nftables, service users)")
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            raise DeployError(f"`{tool}` is not installed: run `make up` (it installs nftables and iproute2)")
    root = Path(lab_dir).resolve()
    if (root / STATE).exists():
        raise ConfigError(root / STATE, "", "a lab is already recorded here: run `strata lab down` first")
    # The service users traverse it to reach their hosts' var/ trees.
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # noqa: S103 - no secret here; they are 0600 below it
    if topology_file:
        try:
            text = Path(topology_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(topology_file, "", f"cannot read: {exc}") from None
    else:
        text = topology.default_topology(
            topology.free_slice(), app_hosts=app_hosts, options=options, site=site
        )
    config_path = root / CONFIG
    # Every check before anything is written or created.
    config = cfgmod.parse(text, topology_file or config_path)
    subnet = topology.lab_slice(config)
    groups = start_groups(config)
    if any(a in subnet for a in topology.used_addresses()):
        raise ConfigError(config.path, "hosts", f"{subnet} is already in use on this machine (another lab?)")
    config_path.write_text(text)
    config = cfgmod.load(config_path)

    suffix = secrets.token_hex(3)
    hosts = {
        name: LabHost(
            name, h.address, f"strata-{suffix}-{name}", f"stv{suffix}{i}", str(root / "hosts" / name)
        )
        for i, (name, h) in enumerate(config.hosts.items())
    }
    lab = Lab(str(root), suffix, str(subnet), f"stb{suffix}", topology.bridge_address(subnet), hosts)
    lab.save()
    try:
        step(
            f"network: bridge {lab.bridge} ({lab.bridge_address}/{subnet.prefixlen}), {len(hosts)} namespaces"
        )
        _build_network(lab, subnet.prefixlen, names_from=config)
        step("firewalls from the connection matrix")
        for name in hosts:
            apply_firewall(lab, config, name)
        step("each host's secrets and certificates, from the lab's control")
        share_bundles(lab)
        for group in groups:
            step(f"strata up on {', '.join(group)}")
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                for f in [pool.submit(_host_up, lab, h) for h in group]:
                    f.result()
    except BaseException:
        down(root)
        raise
    lab.up = True
    lab.save()
    return lab


def write_hosts_file(lab: Lab, host: str, names: dict[str, str] | None = None) -> Path:
    """Write HOST's own /etc/hosts: `ip netns exec` mounts /etc/netns/<namespace>/hosts over /etc/hosts for
    what runs in the namespace. It names the host and NAMES (name -> address: the lab's stand-in for DNS);
    the machine's /etc/hosts is never touched."""
    h = lab.hosts[host]
    path = NETNS_ETC / h.netns / "hosts"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", f"{h.address} {host}"]
    path.write_text("\n".join([*lines, *(f"{a} {n}" for n, a in (names or {}).items())]) + "\n")
    path.chmod(0o644)
    return path


def _build_network(lab: Lab, prefixlen: int, names_from: cfgmod.Config | None = None) -> None:
    """Make the bridge and each host's namespace, address and hosts file (with the names its roles need
    from NAMES_FROM: the lab's stand-in for DNS; without it, the names are left to who deploys)."""
    _ip("link", "add", lab.bridge, "type", "bridge")
    _ip("addr", "add", f"{lab.bridge_address}/{prefixlen}", "dev", lab.bridge)
    _ip("link", "set", lab.bridge, "up")
    for h in lab.hosts.values():
        _ip("netns", "add", h.netns)
        _ip("link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns)
        _ip("link", "set", h.veth, "master", lab.bridge, "up")
        _ip("-n", h.netns, "addr", "add", f"{h.address}/{prefixlen}", "dev", "eth0")
        _ip("-n", h.netns, "link", "set", "eth0", "up")
        _ip("-n", h.netns, "link", "set", "lo", "up")
        write_hosts_file(lab, h.name, names_to_resolve(names_from, h.name) if names_from else None)


def apply_firewall(lab: Lab, config: cfgmod.Config, host: str) -> Path:
    """Render HOST's nftables file, check it with `nft -c` and load it inside HOST's namespace."""
    path = Path(lab.dir) / "nft" / f"{host}.nft"
    path.parent.mkdir(exist_ok=True)
    path.write_text(firewall.render(config, host, table=firewall.LAB_TABLE, origin="strata lab"))
    for argv in (
        ["nft", "-c", "-f", str(path)],
        ["ip", "netns", "exec", lab.hosts[host].netns, "nft", "-f", str(path)],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise DeployError(f"{path}: nftables refused the firewall: {proc.stderr.strip()}")
    return path


def share_bundles(lab: Lab) -> None:
    """Make the secrets and CA once on the lab's control (lab.shared), then give every host its bundle
    (its roles' secrets, its certificates, ca.crt), as `strata deploy` does."""
    env = {k: v for k, v in os.environ.items() if k not in (cfgmod.ENV_VAR_DIR, cfgmod.ENV_HOST)}
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(lab.config_path), "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise DeployError(f"strata init failed: {(proc.stderr or proc.stdout).strip()}")
    files, _changed = control.build_bundles(lab.config(), lab.shared)
    for name, h in lab.hosts.items():
        if name in files:
            control.install_bundle(lab.shared, name, files[name], Path(h.var))


def _host_up(lab: Lab, host: str) -> None:
    proc = lab.strata(host, "up", check=False)
    log = Path(lab.dir) / "log" / f"{host}-up.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        raise DeployError(
            f"lab host {host}: strata up failed: {lines[-1].removeprefix('strata: ')} (log: {log})"
        )


def down(lab_dir: str | os.PathLike) -> list[str]:
    """Stop every host (reverse start order), then remove namespaces, veths and the bridge. Return the
    problems met on the way; every step runs even when an earlier one fails."""
    lab = load(lab_dir)
    if lab is None:
        return []
    problems = []
    try:
        config = lab.config()
        # The reverse of the start order, and the file server last: PostgreSQL's shutdown waits until its
        # last WAL segment is archived there (pitr), ~60 s of pgBackRest retries against a stopped one.
        files = [h.name for h in config.hosts_of("files")]
        groups = [files, *([h for h in g if h not in files] for g in start_groups(config))]
    except ConfigError as exc:
        problems.append(str(exc))
        groups = [list(lab.hosts)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for group in reversed(groups):
            for f in [pool.submit(_host_down, lab, h) for h in group if h in lab.hosts]:
                problem = f.result()
                if problem:
                    problems.append(problem)
    existing = set(_ip("netns", "list", check=False).stdout.split())
    for h in lab.hosts.values():
        if h.netns in existing:
            _kill_leftovers(h.netns)
            for table in (firewall.LAB_TABLE, firewall.TABLE):  # the lab's, or one `strata deploy` loaded
                subprocess.run(
                    ["ip", "netns", "exec", h.netns, "nft", "delete", "table", "inet", table],
                    capture_output=True,
                    timeout=30,
                )
            proc = _ip("netns", "del", h.netns, check=False)
            if proc.returncode:
                problems.append(f"namespace {h.netns}: {proc.stderr.strip()}")
        # Deleting the namespace removes the veth pair; a pair left by a half-built host goes here.
        _ip("link", "del", h.veth, check=False)
        shutil.rmtree(NETNS_ETC / h.netns, ignore_errors=True)
    _ip("link", "del", lab.bridge, check=False)
    (Path(lab.dir) / STATE).unlink(missing_ok=True)
    return problems


def _host_down(lab: Lab, host: str) -> str | None:
    try:
        lab.supervisor(host).shutdown()
    except (DeployError, OSError) as exc:
        return f"{host}: {exc}"
    return None


def _kill_leftovers(netns: str) -> None:
    """SIGKILL processes still in NETNS: only this lab's servers run there."""
    pids = _ip("netns", "pids", netns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pids and time.monotonic() < deadline and _ip("netns", "pids", netns, check=False).stdout.split():
        time.sleep(0.1)
