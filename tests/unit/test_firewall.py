"""The nftables policy `strata deploy` installs (and the lab loads): exactly the matrix, SSH from the
management networks only, public SMTP only with its switch, a counted drop; `strata firewall show`."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys

import pytest

from strata.deploy import firewall
from strata.deploy.cli import main as cli
from strata.deploy.config import LINKS, ConfigError, parse
from tests.support.stack import IN_CI

# Roles sharing hosts, two app hosts with two servers each: every port merge of the generator is used.
TOPOLOGY = """
[site]
var_dir = "shared"
{site}

[hosts.front]
address = "198.18.0.2"

[hosts.app1]
address = "198.18.0.3"

[hosts.app2]
address = "198.18.0.4"

[hosts.data]
address = "198.18.0.5"

[hosts.dir]
address = "198.18.0.6"

[roles.web]
hosts = ["front"]

[roles.app]
hosts = ["app1", "app2"]
instances = 2

[roles.db]
hosts = ["data"]

[roles.files]
hosts = ["data"]

[roles.domain]
hosts = ["dir"]

[roles.comms]
hosts = ["front"]
{comms}
"""
MANAGEMENT = "10.20.0.0/24"
ACCEPT = re.compile(r"^\s*(?:(ip6?) saddr \{ ([^}]*) \} )?tcp dport \{ ([^}]*) \} accept$", re.M)


def topology(site: str = f'management_networks = ["{MANAGEMENT}"]', comms: str = ""):
    return parse(TOPOLOGY.format(site=site, comms=comms), "/srv/site/strata.toml")


def accepted(text: str) -> set[tuple[frozenset[str], frozenset[int]]]:
    """Return the rendered file's accept rules as (sources, ports); no sources: from anywhere."""
    return {
        (
            frozenset(s.strip() for s in m[2].split(",")) if m[2] else frozenset(),
            frozenset(map(int, m[3].split(","))),
        )
        for m in ACCEPT.finditer(text)
    }


def expected(config, host: str, management: str | None) -> set[tuple[frozenset[str], frozenset[int]]]:
    """Return, from the topology alone, what HOST must accept: written out here, not by the generator."""
    roles = config.roles_on(host)
    ports = {
        "web": {config.roles["web"]["http_port"], config.roles["web"]["https_port"]},
        "app": {config.roles["app"]["port"] + i for i in range(config.roles["app"]["instances"])},
    }
    want = set()
    if "web" in roles:
        want.add((frozenset(), frozenset(ports["web"])))
    for source, target, _purpose in LINKS:
        if target in roles:
            sources = {h.address for h in config.hosts_of(source)} - {config.hosts[host].address}
            if sources:
                served = set(ports.get(target, {config.roles[target]["port"]}))
                if (source, target) == ("web", "app"):
                    served.add(config.roles["app"]["events_port"])  # the event server: web only
                want.add((frozenset(sources), frozenset(served)))
    if management:
        want.add((frozenset({management}), frozenset({22})))
    return want


def test_each_host_accepts_the_matrix_and_ssh_from_management_and_nothing_else():
    config = topology()
    flows = 0
    for host in config.hosts:
        text = firewall.render(config, host, management=firewall.management_networks(config, host))
        assert accepted(text) == expected(config, host, MANAGEMENT), host
        flows += len(ACCEPT.findall(text))
    # front: public web, app -> comms; each app host: web -> app, comms -> app; data: web -> files,
    # app -> db, app -> files (db -> files stays on the host); dir: app -> domain; SSH on each of the five.
    assert flows == 2 + 2 * 2 + 3 + 1 + 5


def test_ssh_is_open_to_the_management_networks_only():
    config = topology()
    data = firewall.render(config, "data", management=[MANAGEMENT])
    ssh = [line.strip() for line in data.splitlines() if "dport { 22 }" in line]
    assert ssh == [f"ip saddr {{ {MANAGEMENT} }} tcp dport {{ 22 }} accept"]
    assert firewall.allowed(config, "10.20.0.9", "data", 22, [MANAGEMENT])
    assert not firewall.allowed(config, "10.21.0.9", "data", 22, [MANAGEMENT])
    assert not firewall.allowed(config, "198.18.0.3", "data", 22, [MANAGEMENT])  # an app host
    # The lab's own firewall has no SSH rule at all.
    assert "dport { 22 }" not in firewall.render(config, "data", table=firewall.LAB_TABLE)
    # Another port and IPv6 management networks.
    v6 = topology(site='management_networks = ["10.20.0.0/24", "fd00:1::/64"]\nssh_port = 2222')
    text = firewall.render(v6, "dir", management=firewall.management_networks(v6, "dir"))
    assert "ip saddr { 10.20.0.0/24 } tcp dport { 2222 } accept" in text
    assert "ip6 saddr { fd00:1::/64 } tcp dport { 2222 } accept" in text


def test_default_management_is_this_machines_address_toward_the_host():
    # On a loopback host `ip route get` answers without any network: this machine is 127.0.0.1.
    config = parse(
        '[hosts.local]\naddress = "127.0.0.1"\n[roles.web]\nhosts = ["local"]\n'
        '[roles.app]\nhosts = ["local"]\n[roles.db]\nhosts = ["local"]\n',
        "/srv/one/strata.toml",
    )
    assert firewall.management_networks(config, "local") == ("127.0.0.1/32",)
    assert "ip saddr { 127.0.0.1/32 } tcp dport { 22 } accept" in firewall.render_for_deploy(config, "local")


def test_deploy_refuses_a_policy_that_locks_this_machine_out():
    config = parse(
        '[site]\nmanagement_networks = ["10.20.0.0/24"]\n[hosts.local]\naddress = "127.0.0.1"\n'
        '[roles.web]\nhosts = ["local"]\n[roles.app]\nhosts = ["local"]\n[roles.db]\nhosts = ["local"]\n',
        "/srv/one/strata.toml",
    )
    with pytest.raises(ConfigError, match=r"site.management_networks: does not hold 127.0.0.1, the address"):
        firewall.render_for_deploy(config, "local")


def test_smtp_from_anywhere_only_with_the_switch():
    port = topology().roles["comms"]["port"]
    closed = firewall.render(topology(), "front")
    assert (frozenset(), frozenset({port})) not in accepted(closed)
    assert not firewall.allowed(topology(), None, "front", port)
    assert firewall.allowed(topology(), "198.18.0.3", "front", port)  # the app hosts submit mail
    switched = topology(comms="public_smtp = true")
    open_ = firewall.render(switched, "front")
    assert (frozenset(), frozenset({port})) in accepted(open_)
    assert "roles.comms.public_smtp" in open_
    assert firewall.allowed(switched, None, "front", port)
    assert firewall.allowed(switched, "203.0.113.7", "front", port)


def test_everything_else_is_dropped_and_counted():
    text = firewall.render(topology(), "dir")
    assert f"counter {firewall.COUNTER} {{" in text
    assert "type filter hook input priority filter; policy drop;" in text
    # The last rule of the input chain is the counted drop, after every accept.
    input_chain = text.split("chain input {", 1)[1].split("\n    }", 1)[0]
    rules = [
        line.strip() for line in input_chain.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    assert rules[-1] == f'counter name "{firewall.COUNTER}" drop'
    # Output and forward are left open, explicitly.
    assert "hook output priority filter; policy accept;" in text
    assert "hook forward priority filter; policy accept;" in text
    # The file replaces Strata's table only: never the whole ruleset.
    assert "flush ruleset" not in text
    assert text.count("delete table inet strata\n") == 1


def test_management_networks_are_validated_as_networks():
    for bad, shown in (('["10.0.0.1/24"]', "'10.0.0.1/24'"), ('["lan"]', "'lan'"), ("[24]", "24")):
        with pytest.raises(
            ConfigError, match=rf"site.management_networks: not a network .*: {re.escape(shown)}"
        ):
            topology(site=f"management_networks = {bad}")
    with pytest.raises(ConfigError, match="site.ssh_port: port 0 is out of range"):
        topology(site="ssh_port = 0")
    assert topology(site='management_networks = ["10.0.0.7"]').site["management_networks"] == ["10.0.0.7/32"]


def _need_root_nft() -> None:
    if os.geteuid() == 0 and shutil.which("nft") and shutil.which("ip"):
        return
    message = "nft -c and network namespaces need root and nftables (make test runs as root)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def test_nft_accepts_every_hosts_file(tmp_path):
    _need_root_nft()
    for config in (
        topology(),
        topology(comms="public_smtp = true", site='management_networks = ["fd00::/8"]'),
    ):
        for host in config.hosts:
            path = tmp_path / f"{host}.nft"
            path.write_text(
                firewall.render(config, host, management=firewall.management_networks(config, host))
            )
            proc = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0, (host, proc.stderr)


def test_status_reads_the_loaded_table_and_its_counter(tmp_path):
    _need_root_nft()
    netns = f"strata-fwtest-{os.getpid()}"
    path = tmp_path / "dir.nft"
    path.write_text(firewall.render(topology(), "dir", management=[MANAGEMENT]))
    subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True, timeout=30)
    try:
        assert firewall.describe(netns) == "none (managed by the admin)"
        load = ["ip", "netns", "exec", netns, "nft", "-f", str(path)]
        for _ in range(2):  # loading again replaces the table: same rules, not twice as many
            subprocess.run(load, check=True, capture_output=True, timeout=30)
        # icmp x3, the app -> domain flow, SSH, the counted drop, loopback and established.
        assert firewall.describe(netns) == "strata nftables (8 rules, 0 packets dropped)"
        lab = tmp_path / "lab.nft"
        lab.write_text(firewall.render(topology(), "dir", table=firewall.LAB_TABLE))
        subprocess.run(["ip", "netns", "exec", netns, "nft", "delete", "table", "inet", "strata"], check=True)
        subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", str(lab)], check=True, timeout=30)
        assert firewall.describe(netns).startswith("lab (7 rules, ")
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=30)


def test_cli_shows_a_hosts_file_and_refuses_an_unknown_host(tmp_path, capsys):
    path = tmp_path / "strata.toml"
    path.write_text(TOPOLOGY.format(site=f'management_networks = ["{MANAGEMENT}"]', comms=""))
    assert cli.main(["-c", str(path), "firewall", "show", "data"]) == 0
    shown = capsys.readouterr().out
    assert shown == firewall.render(parse(path.read_text(), path), "data", management=[MANAGEMENT])
    assert shown.startswith("#!/usr/sbin/nft -f\n# Rendered by Strata (strata deploy) for host data")
    assert cli.main(["-c", str(path), "firewall", "show", "nohost"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"strata: {path}: hosts: unknown host 'nohost' (known: front, app1, app2, data, dir)"
    )


def test_cli_deploy_offers_no_firewall():
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "deploy", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "--no-firewall" in proc.stdout
