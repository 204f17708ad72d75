"""The domain role without servers: name and field checks, the CSV import parser, config options, the
rendered slapd.conf, the rootpw hash and the memberOf group type."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from strata.accounts.csvimport import parse_users_csv
from strata.accounts.validation import (
    InvalidInput,
    check_name,
    check_password_shape,
    check_person_fields,
    is_valid_name,
)
from strata.deploy import pki
from strata.deploy.config import ConfigError, parse
from strata.deploy.render import render
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.domain.client import Tree
from strata.deploy.roles.domain.role import DomainRole, _current_rootpw, ssha, ssha_matches
from tests.support.topology import topology

TOPOLOGY = topology(
    site={"domain": "team.example"},
    hosts={"front": "198.18.0.1", "dir": "198.18.0.5"},
    roles={
        "web": ["front"],
        "app": ["front"],
        "db": ["front"],
        "domain": {"hosts": ["dir"], "port": 3389, "base_dn": "dc=team,dc=example"},
    },
)


@pytest.mark.parametrize(
    "name",
    [
        "*",
        "a*",
        "(uid=*)",
        "a)(uid=*",
        "back\\slash",
        "nul\x00l",
        "com,ma",
        "eq=ual",
        "",
        " ",
        "a" * 65,
        "-dash",
        ".dot",
        "sp ace",
        "ünï",
        "new\nline",
    ],
)
def test_names_that_would_need_ldap_escaping_are_refused(name):
    assert not is_valid_name(name)
    with pytest.raises(InvalidInput):
        check_name(name)


def test_valid_names_are_lower_cased():
    assert check_name("Alice.Smith-2_x") == "alice.smith-2_x"
    assert check_name("a" * 64) == "a" * 64


@pytest.mark.parametrize(("password", "message"), [("", "empty"), ("x" * 257, "longer"), ("ab\x00cd", "NUL")])
def test_password_shapes_no_bind_could_take_are_refused(password, message):
    with pytest.raises(InvalidInput, match=message):
        check_password_shape(password)


def test_person_fields_are_checked_and_stripped():
    assert check_person_fields({"first_name": " Ada ", "phone": "+44 (20) 7946-0001"})["first_name"] == "Ada"
    for fields, key in (
        ({"phone": "call me"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "ünï@example.org"}, "email"),
        ({"title": "x" * 121}, "title"),
        ({"department": "a\x00b"}, "department"),
        ({"shoe_size": "9"}, "unknown"),
    ):
        with pytest.raises(InvalidInput, match=key):
            check_person_fields(fields)


def test_csv_reports_every_bad_row_by_line_number():
    text = (
        "username,password,email\n"
        "ada,correct horse battery ada,ada@example.org\n"
        "bob,short\n"
        "ada,correct horse battery two,ada2@example.org\n"
        "c*d,correct horse battery cd,\n"
        "\n"
        "eve,,eve@example.org\n"
        "fay,correct horse battery fay,not-an-email\n"
        "gus,correct horse battery gus,gus@example.org\n"
    )
    rows, errors = parse_users_csv(text)
    assert [r.username for r in rows] == ["ada", "gus"]
    assert [e.split(":")[0] for e in errors] == ["row 3", "row 4", "row 5", "row 7", "row 8"]
    assert "duplicate username 'ada' (also row 2)" in errors[1]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("name,password\nada,x\n", "missing column(s) username"),
        ("username,password,shoe\n", "unknown column(s) shoe"),
        ("username,password,password\n", "twice"),
    ],
)
def test_csv_header_problems(text, problem):
    rows, errors = parse_users_csv(text)
    assert rows == []
    assert problem in errors[0]


def test_csv_quoting_keeps_commas_inside_fields():
    rows, errors = parse_users_csv('username,password,title\nada,"pass, word 123","Head, Engines"\n')
    assert errors == []
    assert rows[0].password == "pass, word 123"
    assert rows[0].fields["title"] == "Head, Engines"


def test_domain_options_have_defaults_and_are_checked():
    config = parse(TOPOLOGY, "strata.toml")
    assert config.roles["domain"]["api_group"] == "api"
    assert config.roles["domain"]["sync_seconds"] == 300
    for bad, key in (
        ('base_dn = "ou=x,dc=example"', "base_dn"),
        ('base_dn = "dc=a b"', "base_dn"),
        ("sync_seconds = 5", "sync_seconds"),
        ('api_group = "a*"', "api_group"),
        ("colour = 1", "colour"),
    ):
        text = TOPOLOGY.replace('base_dn = "dc=team,dc=example"', bad)
        with pytest.raises(ConfigError, match=f"roles.domain.{key}"):
            parse(text, "strata.toml")


def test_domain_port_clashes_are_refused():
    text = TOPOLOGY.replace('hosts = ["dir"]', 'hosts = ["front"]').replace("port = 3389", "port = 18443")
    with pytest.raises(ConfigError, match="port 18443 on 198.18.0.1 is also used"):
        parse(text, "strata.toml")


def test_tree_escapes_what_it_is_given():
    t = Tree("dc=team,dc=example")
    assert t.person("ada") == "uid=ada,ou=people,dc=team,dc=example"
    assert t.person("a,b=c") == "uid=a\\,b\\=c,ou=people,dc=team,dc=example"
    assert t.group("eng") == "cn=eng,ou=groups,dc=team,dc=example"


def test_rootpw_hash_round_trips_and_is_kept_when_unchanged(tmp_path):
    hashed = ssha("s3cret")
    assert hashed.startswith("{SSHA}")
    assert ssha_matches(hashed, "s3cret")
    assert not ssha_matches(hashed, "other")
    assert not ssha_matches("{SSHA}!!", "s3cret")
    assert ssha("s3cret") != hashed  # salted
    conf = tmp_path / "slapd.conf"
    conf.write_text(f"suffix x\nrootpw {hashed}\n")
    assert _current_rootpw(conf) == hashed
    assert _current_rootpw(tmp_path / "none") == ""


def _ctx(tmp_path: Path) -> HostContext:
    text = TOPOLOGY.replace("[site]", f'[site]\nvar_dir = "{tmp_path}/var"')
    config = parse(text, tmp_path / "strata.toml")
    secrets = {"ldap_admin_password": "admin secret", "ldap_app_password": "x", "ldap_writer_password": "y"}
    return HostContext(config, secrets, config.hosts["dir"])


def test_slapd_conf_renders_listener_acls_and_tls(tmp_path, monkeypatch):
    monkeypatch.setattr("strata.deploy.roles.domain.role.chown", lambda *a: None)
    ctx = _ctx(tmp_path)
    role = DomainRole()
    role.render(ctx)
    conf = (ctx.etc("domain") / "slapd.conf").read_text()
    assert 'suffix "dc=team,dc=example"' in conf
    assert 'rootdn "cn=admin,dc=team,dc=example"' in conf
    assert "admin secret" not in conf
    assert ssha_matches(_current_rootpw(ctx.etc("domain") / "slapd.conf"), "admin secret")
    assert "security simple_bind=71" in conf
    assert "disallow bind_anon" in conf
    assert "require authc" in conf
    assert "overlay memberof" in conf
    assert "password-hash {ARGON2}" in conf
    assert f"TLSCertificateKeyFile {ctx.pki / 'domain.key'}" in conf
    assert 'by dn.exact="cn=strata-app,ou=system,dc=team,dc=example" read' in conf
    assert conf.rstrip().endswith("by * none")
    mode = os.stat(ctx.etc("domain") / "slapd.conf").st_mode & 0o777
    assert mode == 0o600
    before = (ctx.etc("domain") / "slapd.conf").read_text()
    role.render(ctx)  # same password: same file (no restart-worthy change)
    assert (ctx.etc("domain") / "slapd.conf").read_text() == before
    cmd = role.programs(ctx)[0].command
    assert "ldap://198.18.0.5:3389/ ldapi://" in cmd[cmd.index("-h") + 1]


def test_rendered_slapd_conf_passes_slaptest(tmp_path, monkeypatch):
    if not Path("/usr/sbin/slaptest").exists():
        pytest.skip("slaptest is not installed (make test installs slapd)")
    monkeypatch.setattr("strata.deploy.roles.domain.role.chown", lambda *a: None)
    ctx = _ctx(tmp_path)
    DomainRole().render(ctx)
    ctx.data("domain").mkdir(parents=True)
    ctx.run_dir("domain").mkdir(parents=True)
    pki.ensure_ca(ctx.pki, "test")
    pki.ensure_server_cert(ctx.pki, "domain", ["team.example"], ["198.18.0.5"])
    proc = subprocess.run(
        ["/usr/sbin/slaptest", "-u", "-Q", "-f", str(ctx.etc("domain") / "slapd.conf")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_template_needs_every_variable():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("domain/templates/slapd.conf.j2", run="/r")
