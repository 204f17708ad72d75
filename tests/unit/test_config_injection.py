"""Values that would inject into a server's config: `strata check` and `strata up` refuse them with one line
naming the key, exit code 2, and nothing written. Valid but unusual values still pass."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import local as deploy
from strata.deploy.cli import main as cli
from strata.deploy.config import ENV_HOST, ENV_VAR_DIR, ConfigError, parse
from strata.deploy.roles import registry
from strata.deploy.roles.spec import KINDS

ROOT = Path(__file__).resolve().parents[2]


def toml(value) -> str:
    """Return VALUE as TOML (JSON's string escapes are TOML's: a newline stays an escape, \\n)."""
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value).lower()


def site_toml(site=None, roles=None, hosts=None) -> str:
    """Return a one-machine strata.toml with every role placed; SITE, ROLES (role -> options) override."""
    tables = {"site": dict(site or {})}
    for name, address in (hosts or {"local": "127.0.0.1"}).items():
        tables[f"hosts.{json.dumps(name)}"] = {"address": address}
    first = next(iter(hosts or {"local": ""}))
    for role in ("web", "app", "db", "comms", "domain", "files"):
        tables[f"roles.{role}"] = {"hosts": [first], **(roles or {}).get(role, {})}
    return "".join(
        f"[{name}]\n" + "".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in opts.items()) + "\n"
        for name, opts in tables.items()
    )


# (what is injected, the key the error must name, the topology)
CORPUS = [
    ("newline in domain", "site.domain", site_toml({"domain": "team.example\nmynetworks = 0.0.0.0/0"})),
    ("CR LF in domain", "site.domain", site_toml({"domain": "team.example\r\nsmtpd_relay_restrictions ="})),
    ("space in domain", "site.domain", site_toml({"domain": "team example"})),
    ("semicolon in domain", "site.domain", site_toml({"domain": "team.example;return"})),
    ("braces in domain", "site.domain", site_toml({"domain": "team.example}{server"})),
    ("IP as domain", "site.domain", site_toml({"domain": "198.18.0.1"})),
    ("unicode domain", "site.domain", site_toml({"domain": "bücher.example"})),
    ("trailing dot", "site.domain", site_toml({"domain": "team.example."})),
    ("label ends with -", "site.domain", site_toml({"domain": "team-.example"})),
    ("domain too long", "site.domain", site_toml({"domain": ".".join(["a" * 60] * 5)})),
    ("NUL in site name", "site.name", site_toml({"name": "Strata\x00"})),
    ("newline in site name", "site.name", site_toml({"name": "Strata\nBcc: all@example.org"})),
    ("line separator in site name", "site.name", site_toml({"name": "Strata\u2028x"})),
    ("DEL in site name", "site.name", site_toml({"name": "Strata\x7f"})),
    ("C1 NEL in site name", "site.name", site_toml({"name": "Strata\x85x"})),
    ("ESC in site name", "site.name", site_toml({"name": "\x1b[31mStrata"})),
    ("site name too long", "site.name", site_toml({"name": "S" * 65})),
    ("newline in var_dir", "site.var_dir", site_toml({"var_dir": "var\nqueue_directory = /"})),
    ("parent in var_dir", "site.var_dir", site_toml({"var_dir": "../elsewhere"})),
    ("parent inside var_dir", "site.var_dir", site_toml({"var_dir": "state/../../etc"})),
    ("parent in absolute var_dir", "site.var_dir", site_toml({"var_dir": "/srv/../etc"})),
    ("root as var_dir", "site.var_dir", site_toml({"var_dir": "/"})),
    ("space in var_dir", "site.var_dir", site_toml({"var_dir": "my var"})),
    ("semicolon in var_dir", "site.var_dir", site_toml({"var_dir": "var;x"})),
    ("dollar in var_dir", "site.var_dir", site_toml({"var_dir": "var$mydomain"})),
    ("newline in admin_email", "site.admin_email", site_toml({"admin_email": "a@team.example\nBcc: x@y"})),
    ("no domain in admin_email", "site.admin_email", site_toml({"admin_email": "admin"})),
    ("display name in admin_email", "site.admin_email", site_toml({"admin_email": "A <a@b.example>"})),
    ("newline in admin_username", "site.admin_username", site_toml({"admin_username": "admin\nroot"})),
    ("comma in admin_username", "site.admin_username", site_toml({"admin_username": "admin,ou=x"})),
    ("newline in time_zone", "site.time_zone", site_toml({"time_zone": "UTC\nX"})),
    ("unknown time_zone", "site.time_zone", site_toml({"time_zone": "Mars/Olympus_Mons"})),
    ("path as time_zone", "site.time_zone", site_toml({"time_zone": "../../../etc/passwd"})),
    (
        "CR in relay host",
        "roles.comms.relay_host",
        site_toml(roles={"comms": {"relay_host": "smtp.example.org\rmynetworks = 0.0.0.0/0"}}),
    ),
    (
        "newline in reply_domain",
        "roles.comms.reply_domain",
        site_toml(roles={"comms": {"reply_domain": "r.ex\n"}}),
    ),
    (
        "header in from_address",
        "roles.comms.from_address",
        site_toml(roles={"comms": {"from_address": "bot@team.example\nBcc: all@example.org"}}),
    ),
    (
        "dollar in from_address",
        "roles.comms.from_address",
        site_toml(roles={"comms": {"from_address": "$myhostname@team.example"}}),
    ),
    (
        "tab in relay_username",
        "roles.comms.relay_username",
        site_toml(roles={"comms": {"relay_host": "smtp.example.org", "relay_username": "u\tp"}}),
    ),
    ("tab in a bucket name", "roles.files.bucket", site_toml(roles={"files": {"bucket": "strata\tfiles"}})),
    (
        "newline in backup bucket",
        "roles.files.backup_bucket",
        site_toml(roles={"files": {"backup_bucket": "b\n"}}),
    ),
    (
        "newline in base_dn",
        "roles.domain.base_dn",
        site_toml(roles={"domain": {"base_dn": "dc=strata,dc=local\nrootpw secret"}}),
    ),
    ("newline in api_group", "roles.domain.api_group", site_toml(roles={"domain": {"api_group": "api\nx"}})),
    ("newline in db name", "roles.db.name", site_toml(roles={"db": {"name": "strata\n"}})),
    ("quote in db user", "roles.db.user", site_toml(roles={"db": {"user": 'strata"'}})),
    ("newline in a hosts item", "roles.web.hosts", site_toml(roles={"web": {"hosts": ["local\n"]}})),
    ("NUL in a hosts item", "roles.app.hosts", site_toml(roles={"app": {"hosts": ["local", "\x00"]}})),
    ("newline in a host name", "hosts.local\\nx", site_toml(hosts={"local\nx": "127.0.0.1"})),
    ("non-ASCII host name", "hosts.hôte", site_toml(hosts={"hôte": "127.0.0.1"})),
    ("newline in an address", "hosts.local.address", site_toml(hosts={"local": "127.0.0.1\n"})),
    # Python's ipaddress takes any text after % as an IPv6 zone: it would reach nginx's listen line.
    ("zone in an address", "hosts.local.address", site_toml(hosts={"local": "fe80::1%x;}server{"})),
    (
        "zone in relay host",
        "roles.comms.relay_host",
        site_toml(roles={"comms": {"relay_host": "fe80::1%x y"}}),
    ),
    (
        "newline in a management network",
        "site.management_networks",
        site_toml({"management_networks": ["10.0.0.0/24", "10.0.1.0/24\naccept"]}),
    ),
    ("negative HSTS max-age", "site.hsts_seconds", site_toml({"hsts_seconds": -1})),
    ("newline in an unknown key", "site.x\\ny", site_toml({"x\ny": 1})),
]


@pytest.fixture(autouse=True)
def _guard(monkeypatch):
    """`up` must stop at its checks: init() is where writing starts, so it may never be reached here."""
    monkeypatch.delenv(ENV_HOST, raising=False)
    monkeypatch.delenv(ENV_VAR_DIR, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("strata up went past its checks and started writing")

    monkeypatch.setattr(deploy, "init", refuse)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "strata.toml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_refused(capsys, tmp_path: Path, path: Path, key: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    assert lines[0].startswith(f"strata: {path}: {key}: "), lines[0]
    assert lines[0].isprintable()
    assert [p.name for p in tmp_path.iterdir()] == ["strata.toml"]
    return lines[0]


@pytest.mark.parametrize(("what", "key", "text"), CORPUS, ids=[c[0] for c in CORPUS])
def test_check_refuses_injected_value(tmp_path, capsys, what, key, text):
    path = write(tmp_path, text)
    assert cli.main(["-c", str(path), "check"]) == 2, what
    assert_refused(capsys, tmp_path, path, key)


NEWLINES = [c for c in CORPUS if "newline" in c[0]]


@pytest.mark.parametrize(("what", "key", "text"), NEWLINES, ids=[c[0] for c in NEWLINES])
def test_up_refuses_injected_value_and_writes_nothing(tmp_path, capsys, what, key, text):
    path = write(tmp_path, text)
    assert cli.main(["-c", str(path), "up"]) == 2, what
    assert_refused(capsys, tmp_path, path, key)


def test_check_as_a_process_prints_one_line(tmp_path):
    path = write(tmp_path, site_toml({"domain": "team.example\nmynetworks = 0.0.0.0/0"}))
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(path), "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"strata: {path}: site.domain: control character '\\n' in 'team.example\\nmynetworks = 0.0.0.0/0'"
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["strata.toml"]


def test_config_directory_unfit_for_server_configs_is_refused(tmp_path, capsys):
    odd = tmp_path / "my site"
    odd.mkdir()
    path = write(odd, site_toml())
    assert cli.main(["-c", str(path), "check"]) == 2
    line = assert_refused(capsys, odd, path, "site.var_dir")
    assert "resolves to" in line
    # An absolute var_dir elsewhere is the way out.
    path.write_text(site_toml({"var_dir": str(tmp_path / "state")}))
    assert cli.main(["-c", str(path), "check"]) == 0
    assert not (tmp_path / "state").exists()


def test_an_option_that_must_be_absolute_refuses_a_relative_path(tmp_path, capsys):
    """The kind machinery end to end, for the certificate files an admin names (roles.web.cert_file)."""
    assert registry.SPECS["web"].kinds["cert_file"] == "absolute_path"
    key = "/etc/ssl/team.example/privkey.pem"
    for bad in ("certs/site.pem", "/etc/ssl/../../root/key.pem", "/etc/ssl/site.pem\n", "~/site.pem"):
        path = write(tmp_path, site_toml(roles={"web": {"tls": "files", "cert_file": bad, "key_file": key}}))
        assert cli.main(["-c", str(path), "check"]) == 2, bad
        assert_refused(capsys, tmp_path, path, "roles.web.cert_file")
    good = {"tls": "files", "cert_file": "/etc/ssl/team.example/fullchain.pem", "key_file": key}
    path = write(tmp_path, site_toml(roles={"web": good}))
    assert cli.main(["-c", str(path), "check"]) == 0
    path = write(tmp_path, site_toml())  # empty: the default, meaning "not set"
    assert cli.main(["-c", str(path), "check"]) == 0


# --- valid unusual values pass ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "roles", "hosts"),
    [
        ({"domain": "xn--bcher-kva.example"}, {}, None),
        ({"domain": "files.eu-west.team.example.org"}, {}, None),
        ({"domain": "a" * 63 + ".example"}, {}, None),
        ({"domain": "localhost"}, {}, {"v6": "::1"}),
        ({}, {"comms": {"relay_host": "2001:db8::25", "reply_domain": "reply.xn--bcher-kva.example"}}, None),
        (
            {},
            {"comms": {"relay_host": "198.51.100.7", "from_address": "no-reply+strata@mail.team.example"}},
            None,
        ),
        ({"name": "Équipe «Ünïcode» — Strata's site", "admin_username": "ops.admin-1"}, {}, None),
        ({"admin_email": "first.last+ops@xn--bcher-kva.example"}, {}, None),
        ({"time_zone": "America/Argentina/Buenos_Aires"}, {}, None),
        ({"var_dir": "/var/lib/strata"}, {}, None),
        ({"var_dir": "./state/strata-1.0_x"}, {}, None),
        (
            {},
            {"db": {"name": "Strata_2", "user": "s"}, "domain": {"base_dn": "dc=xn--bcher-kva,dc=example"}},
            None,
        ),
    ],
)
def test_unusual_valid_values_are_accepted(tmp_path, capsys, site, roles, hosts):
    path = write(tmp_path, site_toml(site, roles, hosts))
    assert cli.main(["-c", str(path), "check"]) == 0
    assert capsys.readouterr().err == ""
    assert [p.name for p in tmp_path.iterdir()] == ["strata.toml"]
    config = parse(path.read_text(encoding="utf-8"), path)
    assert {k: config.site[k] for k in site} == site


def test_ipv6_host_address_is_accepted_with_its_roles(tmp_path):
    config = parse(site_toml(hosts={"v6": "2001:db8::5"}), tmp_path / "strata.toml")
    assert config.host_of("comms").address == "2001:db8::5"


# --- the pieces ------------------------------------------------------------------------------------


def test_every_string_option_of_every_role_declares_its_kind():
    for name, spec in registry.SPECS.items():
        strings = {k for k, (typ, _d) in spec.options.items() if typ is str}
        assert strings == set(spec.kinds), f"roles.{name}: give each str option a kind in SPEC.kinds"
        assert all(k in KINDS for k in spec.kinds.values())
    assert {k for k, (typ, _d) in cfgmod.SITE_OPTIONS.items() if typ is str} == set(cfgmod.SITE_KINDS)


def test_every_default_passes_its_kind():
    for name, spec in registry.SPECS.items():
        for option, kind in spec.kinds.items():
            default = spec.options[option][1]
            assert default == "" or KINDS[kind](default) == "", f"roles.{name}.{option}"
    for option, kind in cfgmod.SITE_KINDS.items():
        default = cfgmod.SITE_OPTIONS[option][1]
        # "" means "not set" (site.log_dir: <var_dir>/log; site.code_dir: the installed code), as for the
        # roles' options.
        assert default == "" or KINDS[kind](default) == "", f"site.{option}"


def test_a_spec_naming_an_unknown_kind_fails_at_import():
    with pytest.raises(ValueError, match="kind 'hostname'"):
        dataclasses.replace(registry.SPECS["comms"], kinds={"relay_host": "hostname"})


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("host_name", ["a", "a-b.c1", "xn--n3h.example"], ["", "-a", "a_b", "a..b", "1.2.3.4", "é.example"]),
        ("host", ["::1", "10.0.0.1", "smtp.example"], ["[::1]", "smtp example", "1.2.3.4:25"]),
        ("ip", ["::1", "198.18.0.1"], ["localhost", "1.2.3", "198.18.0.1/32", "fe80::1%eth0"]),
        ("network", ["198.18.0.0/15", "2001:db8::/32", "10.0.0.1"], ["10.0.0.0/33", "any", ""]),
        ("email", ["a@b", "a.b+c@d.example"], ["a@", "@b", "a b@c", "a..b@c", ".a@b", "a@b@c", "a@-b"]),
        ("path", ["var", "/srv/strata", "a/./b"], ["", "/", "..", "a/../b", "a b", "a'b", "~/x"]),
        ("absolute_path", ["/etc/ssl/x.pem"], ["x.pem", "./x.pem", "/a/../b", "//"]),
        ("identifier", ["strata", "S_1"], ["1s", "_s", "s-1", "s" * 64]),
        ("name", ["admin", "Ops.1", "api-users"], ["", "-a", "a b", "a,b", "a*", "a" * 65]),
        ("dn", ["dc=a", "dc=a-b,dc=c"], ["", "dc=", "o=a", "dc=a, dc=b", "dc=a,dc=b)(x"]),
        ("bucket", ["abc", "strata-files"], ["ab", "Strata", "a_b", "-abc", "a.b"]),
        ("time_zone", ["UTC", "Europe/Paris"], ["", "UTC+1", "/etc/localtime", "Europe/../UTC"]),
        (
            "url",
            ["https://acme.example/dir", "http://[::1]:14000/x"],
            ["ftp://a/", "https://a b/", "https://u@a/"],
        ),
        ("title", ["Strata", "Équipe"], ["", " Strata", "x" * 65, "a\u200fb"]),
        ("text", ["", "user name"], ["a\u2029b", "x" * 201]),
    ],
)
def test_kinds(kind, good, bad):
    check = KINDS[kind]
    assert [v for v in good if check(v)] == []
    assert [v for v in bad if not check(v)] == []


def test_error_naming_a_key_with_a_newline_stays_one_line():
    exc = ConfigError("/srv/a\nb/strata.toml", "hosts.a\nb", "unknown\x00")
    assert str(exc) == "/srv/a\\nb/strata.toml: hosts.a\\nb: unknown\\x00"


def test_var_dir_lenient_refuses_control_characters(tmp_path):
    path = write(tmp_path, '[site]\nvar_dir = "var\\nx"\n')
    with pytest.raises(ConfigError) as info:
        cfgmod.var_dir_lenient(path)
    assert info.value.key == "site.var_dir"
    assert "\n" not in str(info.value)
    path.write_text('[site]\nvar_dir = "state"\nunknown = 1\n')
    assert cfgmod.var_dir_lenient(path) == (tmp_path / "state").resolve()


@pytest.mark.parametrize("bad", ["/srv/a\nb", "/srv/../etc", "/srv/my var", "var;x"])
def test_var_dir_from_the_environment_is_checked_too(tmp_path, monkeypatch, bad):
    path = write(tmp_path, site_toml())
    monkeypatch.setenv(ENV_VAR_DIR, bad)
    with pytest.raises(ConfigError) as info:
        cfgmod.load(path)
    assert info.value.key == ENV_VAR_DIR
    assert "\n" not in str(info.value)
    monkeypatch.setenv(ENV_VAR_DIR, str(tmp_path / "host-a" / "var"))
    assert cfgmod.load(path).var_dir == tmp_path / "host-a" / "var"
