"""The lab as Ansible's target: the namespaces and firewalls without the roles, and an sshd per host.

`network_up` builds what `strata.deploy.lab.run.up` builds before it starts the roles (the same
functions and the same lab.json, so `strata.deploy.lab.run.down` removes it), with or without the lab's
own firewalls (without: what guards the hosts is what `strata deploy` installs); `start_sshd` runs a
private sshd in a host's namespace on its own address, with keys made in a directory of the caller's;
`allow_ssh` opens port 22 to the bridge's address (the control node) in the lab's own firewall.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import firewall
from strata.deploy.config import ConfigError
from strata.deploy.lab import run as labrun
from strata.deploy.lab import topology
from strata.deploy.system import DeployError

SSHD = "/usr/sbin/sshd"


def network_up(
    lab_dir: str | os.PathLike,
    *,
    options: dict | None = None,
    app_hosts: int = 2,
    firewalls: bool = True,
    extra_roles: dict[str, list[str]] | None = None,
) -> labrun.Lab:
    """Build the default lab's bridge, namespaces and (unless not FIREWALLS) the lab's own firewalls, and
    start no role; tear it down again if anything fails. The hosts' var/ trees are LabHost.var, as in a
    lab built by `strata lab up`. EXTRA_ROLES places more roles on the default hosts (e.g. the monitor)."""
    if os.geteuid() != 0:
        raise DeployError("the lab needs root (network namespaces, nftables)")
    root = Path(lab_dir).resolve()
    if (root / labrun.STATE).exists():
        raise ConfigError(
            root / labrun.STATE, "", "a lab is already recorded here: run `strata lab down` first"
        )
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # noqa: S103 - the service users traverse it to their hosts' var/ trees
    text = topology.default_topology(
        topology.free_slice(), app_hosts=app_hosts, options=options, extra_roles=extra_roles
    )
    config_path = root / labrun.CONFIG
    config = cfgmod.parse(text, config_path)
    subnet = topology.lab_slice(config)
    config_path.write_text(text)
    suffix = secrets.token_hex(3)
    hosts = {
        name: labrun.LabHost(
            name, h.address, f"strata-{suffix}-{name}", f"stv{suffix}{i}", str(root / "hosts" / name)
        )
        for i, (name, h) in enumerate(config.hosts.items())
    }
    lab = labrun.Lab(str(root), suffix, str(subnet), f"stb{suffix}", topology.bridge_address(subnet), hosts)
    lab.save()
    try:
        labrun._build_network(lab, subnet.prefixlen)
        for name in hosts if firewalls else ():
            labrun.apply_firewall(lab, config, name)
    except BaseException:
        labrun.down(root)
        raise
    # Recorded as up: `strata status` with the lab's topology probes from the lab's hosts.
    lab.up = True
    lab.save()
    return lab


def allow_ssh(lab: labrun.Lab, host: str) -> None:
    """Accept SSH from the bridge's address (the control node) only, ahead of the matrix's rules."""
    proc = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            lab.hosts[host].netns,
            "nft",
            "insert",
            "rule",
            "inet",
            firewall.LAB_TABLE,
            "input",
            "ip",
            "saddr",
            lab.bridge_address,
            "tcp",
            "dport",
            "22",
            "accept",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        raise DeployError(f"lab host {host}: cannot open SSH in its firewall: {proc.stderr.strip()}")


@dataclass
class Keys:
    dir: Path
    host_key: Path
    client_key: Path
    known_hosts: Path


def make_keys(directory: str | os.PathLike, lab: labrun.Lab) -> Keys:
    """Make one host key for the lab's sshds, a client key allowed to log in as root, and known_hosts."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    host_key, client_key = d / "ssh_host_ed25519_key", d / "id_ed25519"
    for key in (host_key, client_key):
        if not key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "strata-lab", "-f", str(key)],
                check=True,
                capture_output=True,
                timeout=30,
            )
    (d / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    public = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
    known = d / "known_hosts"
    known.write_text("".join(f"{h.address} {public}\n" for h in lab.hosts.values()))
    return Keys(d, host_key, client_key, known)


def ssh_args(keys: Keys) -> str:
    """Return ansible_ssh_common_args for the lab: no user ssh config, the lab's known_hosts only."""
    return (
        f"-F /dev/null -o UserKnownHostsFile={keys.known_hosts} -o StrictHostKeyChecking=yes "
        f"-o IdentitiesOnly=yes -o ConnectTimeout=10"
    )


def start_sshd(lab: labrun.Lab, host: str, keys: Keys) -> subprocess.Popen:
    """Start a private sshd in HOST's namespace on its address, port 22; return it once it listens."""
    if not Path(SSHD).exists():
        raise DeployError(f"{SSHD} is missing: `bash scripts/bootstrap.sh test` installs openssh-server")
    address = lab.hosts[host].address
    conf = keys.dir / f"sshd-{host}.conf"
    conf.write_text(
        "\n".join(
            [
                f"ListenAddress {address}:22",
                f"HostKey {keys.host_key}",
                f"PidFile {keys.dir}/sshd-{host}.pid",
                f"AuthorizedKeysFile {keys.dir}/authorized_keys",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "X11Forwarding no",
                "PrintMotd no",
                "PrintLastLog no",
                # The key files live in a temp dir of the test's, not under ~root/.ssh.
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    # sshd's privilege separation needs this directory (the Debian package's unit creates it at boot).
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    check = subprocess.run([SSHD, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise DeployError(f"{conf}: sshd refused it: {check.stderr.strip()}")
    log = (keys.dir / f"sshd-{host}.log").open("ab")
    # `ip netns exec` execs sshd in place: the PID is sshd's own.
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.hosts[host].netns, SSHD, "-D", "-e", "-f", str(conf)],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    deadline = time.monotonic() + 15
    while not _listening(lab, host, address):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_sshd(proc)
            raise DeployError(
                f"sshd on lab host {host} did not listen on {address}:22 "
                f"(log: {keys.dir / f'sshd-{host}.log'})"
            )
        time.sleep(0.1)
    return proc


def _listening(lab: labrun.Lab, host: str, address: str) -> bool:
    # From the root namespace through the bridge, as Ansible connects (the firewall must allow it).
    try:
        with socket.create_connection((address, 22), timeout=1):
            return True
    except OSError:
        return False


def stop_sshd(proc: subprocess.Popen) -> None:
    """Stop an sshd started by start_sshd (by its PID) and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
