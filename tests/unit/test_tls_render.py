"""Internal TLS: the one rule (Config.link_tls / tls_into) and what it renders for PostgreSQL, gunicorn,
nginx, Postfix, the inbound delivery and Django's settings, on several hosts (TLS) and on one (plain)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from strata.deploy import pki
from strata.deploy.config import Config, ensure_secrets, parse
from strata.deploy.roles.app.role import AppRole
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.comms.role import render_files
from strata.deploy.roles.db.role import DbRole
from strata.deploy.roles.web.role import WebRole
from tests.support.topology import topology

ROLES = ("web", "app", "db", "comms")
SECRETS = {"django_secret_key": "k", "db_superuser_password": "su", "db_app_password": "app"}


def config_for(root: Path, hosts: dict[str, str], placement: dict[str, list[str]]) -> Config:
    text = topology(site={"domain": "team.example"}, hosts=hosts, roles=placement)
    root.mkdir()
    path = root / "strata.toml"
    path.write_text(text)
    return parse(text, path)


@pytest.fixture
def spread(tmp_path) -> Config:
    """Each role on its own host, two app hosts, and one app host shared with the database."""
    hosts = {"front": "198.18.0.1", "app1": "198.18.0.2", "data": "198.18.0.4", "mail": "198.18.0.5"}
    return config_for(
        tmp_path / "spread",
        hosts,
        {"web": ["front"], "app": ["app1", "data"], "db": ["data"], "comms": ["mail"], "files": ["data"]},
    )


@pytest.fixture
def single(tmp_path) -> Config:
    return config_for(tmp_path / "single", {"local": "127.0.0.1"}, dict.fromkeys(ROLES, ["local"]))


def ctx(config: Config, host: str) -> HostContext:
    return HostContext(config, SECRETS, config.hosts[host])


@pytest.fixture(autouse=True)
def no_service_users(monkeypatch):
    for role in ("web", "app", "db"):
        monkeypatch.setattr(f"strata.deploy.roles.{role}.role.service_user", lambda name: None)


def conf_settings(text: str, pattern: str = r"^(\w+) = (.*)$") -> dict[str, str]:
    return dict(re.findall(pattern, text, re.M))


# --- the rule ----------------------------------------------------------------------------------------


def test_a_link_is_tls_when_its_ends_are_on_different_hosts(spread, single, tmp_path):
    assert spread.link_tls("web", "app")
    assert spread.link_tls("app", "db")  # app1 is another machine, though one app host is the db's
    assert spread.link_tls("app", "comms")
    assert spread.tls_into("app")
    assert spread.tls_into("db")
    assert spread.tls_into("comms")
    for source, target in (("web", "app"), ("app", "db"), ("app", "comms"), ("comms", "app")):
        assert not single.link_tls(source, target)
    assert not any(single.tls_into(r) for r in ROLES)
    # Only the db's own host runs an app server: the database stays plain even though the web is apart.
    apart = config_for(
        tmp_path / "apart",
        {"front": "198.18.0.1", "back": "198.18.0.2"},
        {"web": ["front"], "app": ["back"], "db": ["back"], "comms": ["back"], "files": ["back"]},
    )
    assert apart.tls_into("app")
    assert not apart.tls_into("db")
    assert not apart.tls_into("comms")
    assert apart.ca_cert == apart.var_dir / "pki" / "ca.crt"


# --- PostgreSQL --------------------------------------------------------------------------------------


def test_postgresql_on_several_hosts_is_ssl_only_for_remote_app_hosts(spread):
    c = ctx(spread, "data")
    DbRole().render(c)
    conf = conf_settings((c.etc("db") / "postgresql.conf").read_text())
    assert conf["ssl"] == "on"
    assert conf["ssl_cert_file"] == f"'{c.pki / 'db.crt'}'"
    assert conf["ssl_key_file"] == f"'{c.pki / 'db.key'}'"
    assert conf["ssl_min_protocol_version"] == "'TLSv1.2'"
    hba = [
        ln.split()
        for ln in (c.etc("db") / "pg_hba.conf").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert [ln for ln in hba if ln[0].startswith("host")] == [
        ["hostssl", "strata", "strata", "198.18.0.2/32", "scram-sha-256"],  # app1: another machine
        ["host", "strata", "strata", "198.18.0.4/32", "scram-sha-256"],  # the db's own host
    ]
    assert DbRole().certificates(spread, spread.hosts["data"]) == [
        pki.CertRequest("db", ("db.team.example",), ("198.18.0.4",))
    ]


def test_postgresql_on_one_machine_is_plain(single):
    c = ctx(single, "local")
    DbRole().render(c)
    conf = conf_settings((c.etc("db") / "postgresql.conf").read_text())
    assert conf["ssl"] == "off"
    assert "ssl_cert_file" not in conf
    assert "hostssl" not in (c.etc("db") / "pg_hba.conf").read_text()
    assert DbRole().certificates(single, single.hosts["local"]) == []


# --- gunicorn and nginx ------------------------------------------------------------------------------


def test_gunicorn_serves_tls_with_its_host_certificate(spread, single):
    c = ctx(spread, "app1")
    AppRole().render(c)
    text = (c.etc("app") / "gunicorn-1.conf.py").read_text()
    compile(text, "gunicorn-1.conf.py", "exec")
    conf = conf_settings(text)
    assert conf["certfile"] == f'"{c.pki / "app.crt"}"'
    assert conf["keyfile"] == f'"{c.pki / "app.key"}"'
    assert "ssl.TLSVersion.TLSv1_2" in text
    # Every app certificate carries the name nginx verifies, and its own host's address.
    assert AppRole().certificates(spread, spread.hosts["app1"]) == [
        pki.CertRequest("app", ("app.team.example",), ("198.18.0.2",))
    ]
    one = ctx(single, "local")
    AppRole().render(one)
    plain = (one.etc("app") / "gunicorn-1.conf.py").read_text()
    assert "certfile" not in plain
    assert "ssl_context" not in plain
    assert AppRole().certificates(single, single.hosts["local"]) == []


def test_the_event_server_runs_per_app_host_with_the_same_tls(spread, single):
    c = ctx(spread, "app1")
    (events,) = [p for p in AppRole().programs(c) if p.name == "events"]
    args = events.command
    assert args[1] == "strata.live.server:application"
    assert args[args.index("--host") + 1] == "198.18.0.2"
    assert args[args.index("--port") + 1] == str(spread.roles["app"]["events_port"]) == "18150"
    assert args[args.index("--ssl-certfile") + 1] == str(c.pki / "app.crt")
    assert events.ports == [18150]
    one = ctx(single, "local")
    (plain,) = [p for p in AppRole().programs(one) if p.name == "events"]
    assert "--ssl-certfile" not in plain.command


def test_nginx_verifies_the_app_servers(spread, single):
    c = ctx(spread, "front")
    WebRole().render(c)
    text = (c.etc("web") / "nginx.conf").read_text()
    assert "proxy_pass http://strata_app;" not in text
    assert text.count("proxy_pass https://strata_app;") == 5  # every location that proxies to the app
    assert text.count("proxy_pass https://strata_app$request_uri;") == 1  # WebDAV's bounded bodies
    assert text.count("proxy_pass https://strata_events;") == 1  # the event servers' (live updates)
    # The six locations that proxy to the app (the content host's /c/ and WebDAV's bounded bodies too),
    # the event servers', and the file server's twice (S3 is HTTPS on every topology; its internal
    # location is in the content host's block and, for WebDAV, in the site's).
    assert text.count("proxy_ssl_verify on;") == 9
    assert f"proxy_ssl_trusted_certificate {spread.ca_cert};" in text
    assert "proxy_ssl_name app.team.example;" in text
    assert "proxy_ssl_session_reuse on;" in text
    upstream = re.search(r"upstream strata_app \{(.*?)\}", text, re.S)
    assert upstream
    assert "keepalive 64;" in upstream.group(1)  # more kept connections: fewer handshakes
    one = ctx(single, "local")
    WebRole().render(one)
    plain = (one.etc("web") / "nginx.conf").read_text()
    assert plain.count("proxy_pass http://strata_app;") == 5
    plain_upstream = re.search(r"upstream strata_app \{(.*?)\}", plain, re.S)
    assert plain_upstream
    assert "keepalive 16;" in plain_upstream.group(1)
    assert "proxy_ssl_verify" not in plain  # this one has no file server: files on the app host's disk


# --- Postfix -----------------------------------------------------------------------------------------


def comms_files(config: Config, host: str) -> dict[str, str]:
    files = render_files(config, {}, config.hosts[host], config.var_dir, "python3", None, 1, 1)
    return {name: text for name, (text, _mode) in files.items()}


def test_postfix_requires_starttls_of_the_app_hosts(spread):
    files = comms_files(spread, "mail")
    main = conf_settings(files["main.cf"])
    assert main["smtpd_tls_security_level"] == "may"  # mail from the world may still come in plain
    assert main["smtpd_tls_cert_file"] == str(spread.var_dir / "pki" / "comms.crt")
    assert main["smtpd_tls_key_file"] == str(spread.var_dir / "pki" / "comms.key")
    assert main["smtpd_tls_protocols"] == main["smtpd_tls_mandatory_protocols"] == ">=TLSv1.2"
    # ... but the app hosts must start TLS before anything they submit is relayed.
    relay = main["smtpd_relay_restrictions"].split(", ")
    assert relay[0] == f"check_client_access cidr:{spread.var_dir / 'etc' / 'comms'}/submission_clients.cidr"
    assert relay.index("permit_mynetworks") > 0
    assert files["submission_clients.cidr"].splitlines() == [
        "198.18.0.2/32 reject_plaintext_session",
        "198.18.0.4/32 reject_plaintext_session",
    ]
    # The replies go to the app servers over HTTPS, verified with the site CA.
    inbound = json.loads(files["inbound.json"])
    assert inbound["cafile"] == str(spread.ca_cert)


def test_postfix_on_one_machine_is_plain(single):
    files = comms_files(single, "local")
    main = conf_settings(files["main.cf"])
    assert main["smtpd_tls_security_level"] == "none"
    assert "smtpd_tls_cert_file" not in main
    assert main["smtpd_relay_restrictions"] == "permit_mynetworks, reject_unauth_destination"
    assert json.loads(files["inbound.json"])["cafile"] is None


# --- Django's settings -------------------------------------------------------------------------------

SETTINGS_PROBE = """
import json, ssl
from strata.site import settings as s
opts = s.DATABASES["default"]["OPTIONS"]
print(json.dumps({
    "sslmode": opts.get("sslmode"),
    "sslrootcert": opts.get("sslrootcert"),
    "smtp_tls": isinstance(s.STRATA_COMMS["tls"], ssl.SSLContext),
}))
"""


def django_settings(config: Config) -> dict:
    """Import the site's settings for CONFIG in a fresh interpreter; return what they say about TLS."""
    ensure_secrets(config)
    pki.ensure_ca(config.var_dir / "pki", "Test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    proc = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        env={**env, "STRATA_CONFIG": str(config.path), "STRATA_HOST": config.hosts_of("app")[0].name},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_django_connects_with_verify_full_and_starttls_across_hosts(spread, single):
    assert django_settings(spread) == {
        "sslmode": "verify-full",
        "sslrootcert": str(spread.ca_cert),
        "smtp_tls": True,
    }
    assert django_settings(single) == {"sslmode": None, "sslrootcert": None, "smtp_tls": False}
