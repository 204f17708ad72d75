"""The lab's pure logic: its topology, address slices, start order and the firewall from the matrix."""

from __future__ import annotations

import ipaddress
import itertools
import os
import shutil
import subprocess
import sys

import pytest

from strata.deploy import firewall
from strata.deploy.config import LINKS, ConfigError, parse, port_bindings
from strata.deploy.lab import run, topology

SLICE = ipaddress.ip_network("198.18.0.32/27")


def lab_config(**kw):
    return parse(topology.default_topology(SLICE, **kw), "/srv/lab/strata.toml")


def test_default_lab_puts_each_role_on_its_own_host_with_two_app_hosts():
    config = lab_config()
    assert [h.name for h in config.hosts_of("app")] == ["app1", "app2"]
    for role in ("web", "db", "comms", "domain", "files"):
        assert [h.name for h in config.hosts_of(role)] == [role]
    assert all(len(config.roles_on(h)) == 1 for h in config.hosts)
    addresses = [ipaddress.ip_address(h.address) for h in config.hosts.values()]
    assert all(a in SLICE for a in addresses)
    assert len(set(addresses)) == 7
    assert str(SLICE.network_address + 1) not in {str(a) for a in addresses}  # the bridge's
    assert topology.lab_slice(config) == SLICE
    assert config.site["var_dir"] == "shared"


def test_options_and_placement_are_written_into_the_topology():
    config = lab_config(app_hosts=3, options={"app": {"workers": 4}, "domain": {"sync_seconds": 600}})
    assert len(config.hosts_of("app")) == 3
    assert config.roles["app"]["workers"] == 4
    assert config.roles["domain"]["sync_seconds"] == 600
    shared = parse(
        topology.default_topology(SLICE, placement={"web": ["front"], "app": ["front"], "db": ["back"]}),
        "/x.toml",
    )
    assert set(shared.hosts) == {"front", "back"}
    assert not shared.enabled("files")
    # Without the file server, web and app must share a host: the config validator says so.
    with pytest.raises(ConfigError, match="roles.files.*share one host"):
        parse(
            topology.default_topology(SLICE, placement={"web": ["front"], "app": ["back"], "db": ["back"]}),
            "/x.toml",
        )


def test_free_slice_skips_slices_in_use_and_says_when_none_is_left():
    taken = {ipaddress.ip_address("198.18.0.1"), ipaddress.ip_address("198.18.0.33")}
    assert topology.free_slice(taken) == ipaddress.ip_network("198.18.0.64/27")
    everything = {s.network_address + 1 for s in topology.slices()}
    with pytest.raises(ConfigError, match="in use by another lab"):
        topology.free_slice(everything)


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        (("198.18.0.34", "10.0.0.5"), "outside the lab's network"),
        (("198.18.0.34", "198.18.0.70"), "share one /27"),
        (("198.18.0.33", "198.18.0.34"), "reserved"),
        (("198.18.0.34", "198.18.0.63"), "reserved"),
    ],
)
def test_lab_addresses_must_lie_in_one_slice_of_198_18_0_0_24(addresses, message):
    text = f"""
[hosts.a]
address = "{addresses[0]}"
[hosts.b]
address = "{addresses[1]}"
[roles.web]
hosts = ["a"]
[roles.app]
hosts = ["a"]
[roles.db]
hosts = ["b"]
"""
    with pytest.raises(ConfigError, match=message) as info:
        topology.lab_slice(parse(text, "/x.toml"))
    assert "hosts." in str(info.value)


def test_start_groups_db_and_servers_first_then_the_migrating_app_host_then_the_others():
    assert run.start_groups(lab_config()) == [["web", "db", "comms", "domain", "files"], ["app1"], ["app2"]]
    together = parse(
        topology.default_topology(
            SLICE, placement={"web": ["a"], "app": ["a", "b"], "db": ["b"], "files": ["a"]}
        ),
        "/x.toml",
    )
    with pytest.raises(ConfigError, match="roles.app.hosts: the db host b runs an app server too"):
        run.start_groups(together)


def test_firewall_allows_exactly_the_matrix():
    config = lab_config(app_hosts=2)
    outside = str(SLICE.network_address + 1)
    role_of = {h: config.roles_on(h)[0] for h in config.hosts}
    link_pairs = {(s, t) for s, t, _ in LINKS}
    s3 = config.roles["files"]["port"]
    for (_role, _key, port, target), source in itertools.product(
        port_bindings(config), [None, *config.hosts]
    ):
        address = outside if source is None else config.hosts[source].address
        got = firewall.allowed(config, address, target.name, port)
        t = role_of[target.name]
        if source == target.name:
            want = True
        elif t == "web":
            want = True  # the public entry
        elif t == "files" and port != s3:
            want = False  # SeaweedFS's own servers stay on the host
        elif t == "app" and port == config.roles["app"]["events_port"]:
            want = source is not None and role_of[source] == "web"  # the event server: nginx only
        else:
            want = source is not None and (role_of[source], t) in link_pairs
        assert got == want, (source, target.name, port)


def test_firewall_file_names_its_rules_and_keeps_internal_ports_closed():
    config = lab_config()
    text = firewall.render(config, "db")
    app = sorted(h.address for h in config.hosts_of("app"))
    assert "policy drop" in text
    assert 'iif "lo" accept' in text
    assert f"ip saddr {{ {app[0]}, {app[1]} }} tcp dport {{ {config.roles['db']['port']} }} accept" in text
    files = firewall.render(config, "files")
    assert str(config.roles["files"]["internal_port"]) not in files
    assert "web -> files" in files
    assert "db -> files" in files
    web = firewall.render(config, "web")
    assert "ip saddr" not in web
    assert "client -> web" in web


def test_files_ports_avoid_seaweedfs_sockets_left_under_tmp(monkeypatch):
    taken = {18333, 18342}
    monkeypatch.setattr(topology, "_socket_taken", lambda port: port in taken)
    ports = topology.files_ports()
    assert ports["port"] == 18334
    assert not set(range(ports["internal_port"], ports["internal_port"] + 9)) & (taken | {18334})


def test_status_page_topology_places_hosts_in_tiers_and_draws_each_link_once():
    from strata.deploy.health import LinkReport, RoleReport
    from strata.deploy.roles.probe import Health
    from strata.ops.topology import layout

    config = lab_config()
    roles = [
        RoleReport(
            r,
            True,
            [h.name for h in config.hosts_of(r)],
            "ok",
            "",
            [(h.name, Health(r != "domain", "")) for h in config.hosts_of(r)],
            "",
        )
        for r in ("web", "app", "db", "comms", "domain", "files")
    ]
    links = [LinkReport(s, t, p, "down" if "domain" in (s, t) else "ok", "") for s, t, p in LINKS]
    t = layout(config, roles, links)
    boxes = {b.name: b for b in t["boxes"]}
    assert boxes["web"].y < boxes["app1"].y == boxes["app2"].y < boxes["db"].y
    assert dict((r, s) for r, s, _y in boxes["domain"].roles) == {"domain": "down"}
    # web -> app1, web -> app2, web -> files, 2 app hosts x 4 servers, comms -> 2 app hosts, db -> files.
    assert len(t["edges"]) == 3 + 8 + 2 + 1
    assert sum(e.state == "down" for e in t["edges"]) == 2
    assert all(e.path.startswith("M") for e in t["edges"])
    same_row = [e for e in t["edges"] if "Q" in e.path]
    assert len(same_row) == 1
    assert "db on db" in same_row[0].title


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="lab up needs root and nftables")
def test_lab_up_refuses_a_topology_outside_the_lab_network_in_one_line_and_creates_nothing(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text(
        '[hosts.a]\naddress = "127.0.0.1"\n[roles.web]\nhosts = ["a"]\n'
        '[roles.app]\nhosts = ["a"]\n[roles.db]\nhosts = ["a"]\n'
    )
    lab_dir = tmp_path / "lab"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "strata.deploy.cli.main",
            "lab",
            "up",
            "--dir",
            str(lab_dir),
            "--topology",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"strata: {bad}: hosts.a.address: 127.0.0.1 is outside the lab's network 198.18.0.0/24"
    )
    assert not (lab_dir / "lab.json").exists()
    assert not (lab_dir / "strata.toml").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "lab", "status", "--dir", str(lab_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no lab here" in proc.stderr
