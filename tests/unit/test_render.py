"""Rendering: nginx, PostgreSQL and gunicorn configs, the supervisor config, write() and the local PKI."""

from __future__ import annotations

import ast
import configparser
import datetime as dt
import ipaddress
import re
import shlex
import stat
import tomllib
from pathlib import Path

import jinja2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from gunicorn.util import parse_address
from supervisor.datatypes import dict_of_key_value_pairs

from strata.deploy import pki
from strata.deploy.config import parse
from strata.deploy.render import render, write
from strata.deploy.roles.app.role import AppRole
from strata.deploy.roles.base import HostContext, Program
from strata.deploy.roles.db.role import DbRole
from strata.deploy.roles.files import role as files_role
from strata.deploy.roles.files.spec import INTERNAL_PORTS, S3_GRPC_OFFSET
from strata.deploy.roles.web.role import TEMP_DIRS, WebRole
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError

TOPOLOGY = """
[site]
domain = "team.example"
var_dir = "var"
hsts_seconds = 600

[hosts.front]
address = "198.18.0.1"

[hosts.app1]
address = "198.18.0.2"

[hosts.app2]
address = "198.18.0.3"

[hosts.data]
address = "198.18.0.4"

[roles.web]
hosts = ["front"]
http_port = 8080
https_port = 8443

[roles.app]
hosts = ["app1", "app2"]
port = 9000
instances = 3
workers = 8
timeout = 45

[roles.db]
hosts = ["data"]
port = 5433
name = "teamdb"
user = "teamuser"
pool_size = 4

[roles.files]
hosts = ["data"]
"""

SECRETS = {
    "django_secret_key": "k",
    "db_superuser_password": "su",
    "db_app_password": "app",
    "admin_password": "adm",
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "strata.toml"
    path.write_text(TOPOLOGY)
    return parse(TOPOLOGY, path)


def ctx_for(config, host: str) -> HostContext:
    return HostContext(config, SECRETS, config.hosts[host])


@pytest.fixture
def no_service_users(monkeypatch):
    """Render as a non-root deployer would: no `user` directives (we may be running as root)."""
    monkeypatch.setattr("strata.deploy.roles.web.role.service_user", lambda name: None)


# --- nginx -----------------------------------------------------------------------------------------


def render_web(config, host="front") -> str:
    ctx = ctx_for(config, host)
    WebRole().render(ctx)
    conf = ctx.etc("web") / "nginx.conf"
    assert conf.is_relative_to(config.var_dir)
    return conf.read_text()


def test_nginx_upstream_has_every_app_instance(config, no_service_users):
    text = render_web(config)
    servers = re.findall(r"^\s*server (\S+) max_fails=1 fail_timeout=10s;$", text, re.M)
    assert servers == [f"198.18.0.{h}:{p}" for h in (2, 3) for p in (9000, 9001, 9002)]


def test_nginx_listens_on_web_host_and_redirects(config, no_service_users):
    text = render_web(config)
    assert "listen 198.18.0.1:8080;" in text
    assert "listen 198.18.0.1:8443 ssl http2;" in text
    assert "return 301 https://$host:8443$request_uri;" in text
    assert re.search(r"^\s*server_name team\.example;$", text, re.M)
    assert "max-age=600;" in text


def test_nginx_redirect_on_port_443_has_no_port(config, no_service_users, tmp_path):
    text443 = TOPOLOGY.replace("https_port = 8443", "https_port = 443")
    cfg = parse(text443, tmp_path / "strata.toml")
    text = render_web(cfg)
    assert "return 301 https://$host$request_uri;" in text
    assert "listen 198.18.0.1:443 ssl http2;" in text


def test_nginx_hides_app_healthz(config, no_service_users):
    text = render_web(config)
    assert re.search(r"location = /healthz \{\s*return 404;\s*\}", text)


def test_nginx_runs_in_foreground_with_paths_under_var(config, no_service_users):
    ctx = ctx_for(config, "front")
    text = render_web(config)
    assert re.search(r"^daemon off;$", text, re.M)
    run = ctx.run_dir("web")
    assert f"pid {run}/nginx.pid;" in text
    temps = re.findall(r"^\s*(\w+)_temp_path (\S+);$", text, re.M)
    assert [name for name, _ in temps] == list(TEMP_DIRS)
    for name, path in temps:
        assert Path(path) == run / "tmp" / name
    assert f"ssl_certificate {ctx.pki / 'web.crt'};" in text
    assert f"ssl_certificate_key {ctx.pki / 'web.key'};" in text
    assert f"alias {ctx.static}/;" in text
    assert not re.search(r"^user ", text, re.M)
    assert text.count("{") == text.count("}")


def test_nginx_user_line_when_running_as_root(config, monkeypatch):
    monkeypatch.setattr("strata.deploy.roles.web.role.service_user", lambda name: name)
    text = render_web(config)
    assert text.splitlines()[1] == "user www-data;"


def test_nginx_brackets_ipv6_addresses(tmp_path, no_service_users):
    text6 = TOPOLOGY.replace('"198.18.0.1"', '"fd00::1"').replace('"198.18.0.2"', '"fd00::2"')
    cfg = parse(text6, tmp_path / "strata.toml")
    text = render_web(cfg)
    assert "listen [fd00::1]:8080;" in text
    assert "server [fd00::2]:9000 max_fails" in text
    assert "server 198.18.0.3:9002 max_fails" in text


def test_nginx_template_missing_variable_is_an_error():
    with pytest.raises(jinja2.exceptions.UndefinedError):
        render("web/templates/nginx.conf.j2", user=None, workers=1)


def test_every_template_rejects_missing_variables():
    for template in (
        "db/templates/pg_hba.conf.j2",
        "db/templates/postgresql.conf.j2",
        "app/templates/gunicorn.conf.py.j2",
        "files/templates/security.toml.j2",
    ):
        with pytest.raises(jinja2.exceptions.UndefinedError):
            render(template)


# --- SeaweedFS ---------------------------------------------------------------------------------------

FILES_SECRETS = {
    **SECRETS,
    **{
        f"s3_{who}_{kind}_key": f"{who}-{kind}"
        for who in ("app", "backup", "admin")
        for kind in ("access", "secret")
    },
    "seaweedfs_jwt_key": 'w"1\\',
    "seaweedfs_jwt_read_key": "r1",
    "seaweedfs_filer_jwt_key": "fw1",
    "seaweedfs_filer_jwt_read_key": "fr1",
}


def test_files_servers_listen_on_loopback_and_only_s3_on_the_host(config, monkeypatch):
    monkeypatch.setattr(files_role, "weed_binary", lambda: "/venv/bin/weed")
    monkeypatch.setattr(files_role, "service_user", lambda name: None)
    ctx = HostContext(config, FILES_SECRETS, config.hosts["data"])
    servers, gateway = files_role.FilesRole().programs(ctx)
    base = config.roles["files"]["internal_port"]
    assert {"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3=false"} <= set(servers.command)
    assert not any("198.18.0.4" in arg for arg in servers.command)
    assert f"-config_dir={ctx.etc('files')}" in servers.command
    assert servers.command.index(f"-config_dir={ctx.etc('files')}") < servers.command.index("mini")
    assert "-ip.bind=198.18.0.4" in gateway.command
    assert f"-filer=127.0.0.1:{base + 2}.{base + 6}" in gateway.command
    assert f"-cert.file={ctx.pki / 'files-s3.crt'}" in gateway.command
    assert sorted(servers.ports + gateway.ports) == sorted(
        [config.roles["files"]["port"], *range(base, base + INTERNAL_PORTS)]
    )
    assert gateway.ports == [config.roles["files"]["port"], base + S3_GRPC_OFFSET]


def test_files_programs_bound_their_memory(config, monkeypatch):
    # P6: Go's soft limit and a lower GOGC for both SeaweedFS programs.
    monkeypatch.setattr(files_role, "weed_binary", lambda: "/venv/bin/weed")
    monkeypatch.setattr(files_role, "service_user", lambda name: None)
    servers, gateway = files_role.FilesRole().programs(
        HostContext(config, FILES_SECRETS, config.hosts["data"])
    )
    for program in (servers, gateway):
        limit = files_role.MEMORY_LIMIT_MIB[program.name]
        assert program.environment == {"GOMEMLIMIT": f"{limit}MiB", "GOGC": "50"}


def test_files_certificates_name_loopback_and_the_host(config):
    grpc, https = files_role.FilesRole().certificates(config, config.hosts["data"])
    assert (grpc.stem, grpc.client_auth, grpc.addresses) == ("files-grpc", True, ("127.0.0.1",))
    assert (https.stem, https.client_auth) == ("files-s3", False)
    assert https.names == ("files-s3.team.example",)
    assert set(https.addresses) == {"127.0.0.1", "198.18.0.4"}


def test_files_security_toml_signs_volume_and_filer_and_requires_grpc_tls(config, monkeypatch):
    monkeypatch.setattr(files_role, "service_user", lambda name: None)
    ctx = HostContext(config, FILES_SECRETS, config.hosts["data"])
    files_role.FilesRole().render(ctx)
    path = ctx.etc("files") / "security.toml"
    assert mode(path) == 0o600
    sec = tomllib.loads(path.read_text())
    assert sec["jwt"]["signing"]["key"] == 'w"1\\'
    assert sec["jwt"]["signing"]["read"]["key"] == "r1"
    assert sec["jwt"]["filer_signing"]["key"] == "fw1"
    assert sec["jwt"]["filer_signing"]["read"]["key"] == "fr1"
    assert sec["grpc"]["ca"] == str(ctx.pki / "ca.crt")
    for section in ("master", "volume", "filer", "s3", "admin", "client"):
        assert sec["grpc"][section] == {
            "cert": str(ctx.pki / "files-grpc.crt"),
            "key": str(ctx.pki / "files-grpc.key"),
        }


def test_s3_identities_are_least_privilege(config):
    ids = {i["name"]: set(i["actions"]) for i in files_role.identities(config, FILES_SECRETS)["identities"]}
    data, backups = config.roles["files"]["bucket"], config.roles["files"]["backup_bucket"]
    assert ids["strata-app"] == {f"{a}:{data}" for a in ("Read", "Write", "List", "Tagging")}
    assert ids["strata-backup"] == {f"Read:{data}", f"List:{data}"} | {
        f"{a}:{backups}" for a in ("Read", "Write", "List")
    }
    assert "Admin" in ids["strata-admin"]


def test_nginx_fetches_file_bytes_over_verified_https(config, no_service_users):
    conf = render_web(config)
    location = conf.split("location ^~ /_files_s3/", 1)[1].split("}", 1)[0]
    assert "proxy_pass https://strata_files/;" in location
    assert "proxy_ssl_verify on;" in location
    assert "proxy_ssl_name files-s3.team.example;" in location
    assert f"proxy_ssl_trusted_certificate {config.var_dir / 'pki' / 'ca.crt'};" in location
    assert "proxy_ssl_session_reuse on;" in location
    assert "proxy_buffers 4 64k;" in location
    assert "server 198.18.0.4:18333;" in conf


def test_nginx_streams_uploads_through_a_large_buffer(config, no_service_users):
    location = render_web(config).split("location ^~ /api/files/uploads/", 1)[1].split("}", 1)[0]
    assert "proxy_request_buffering off;" in location
    assert "client_body_buffer_size 1m;" in location


# --- PostgreSQL ------------------------------------------------------------------------------------


def test_pg_hba_allows_only_app_hosts(config):
    ctx = ctx_for(config, "data")
    DbRole().render(ctx)
    lines = [
        ln.split()
        for ln in (ctx.etc("db") / "pg_hba.conf").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    host_lines = [ln for ln in lines if ln[0].startswith("host")]
    # The app hosts are other machines: TLS only (tests/unit/test_tls_render.py has the rest).
    assert host_lines == [
        ["hostssl", "teamdb", "teamuser", "198.18.0.2/32", "scram-sha-256"],
        ["hostssl", "teamdb", "teamuser", "198.18.0.3/32", "scram-sha-256"],
    ]
    assert ["local", "all", "postgres", "scram-sha-256"] in lines
    assert not any(ln[1:3] == ["all", "all"] for ln in lines)
    assert all(ln[-1] == "scram-sha-256" for ln in lines)
    assert "198.18.0.1" not in (ctx.etc("db") / "pg_hba.conf").read_text()


def test_postgresql_conf_listens_only_on_db_host(config):
    ctx = ctx_for(config, "data")
    DbRole().render(ctx)
    text = (ctx.etc("db") / "postgresql.conf").read_text()
    settings = dict(re.findall(r"^(\w+) = (.*)$", text, re.M))
    assert settings["listen_addresses"] == "'198.18.0.4'"
    assert settings["port"] == "5433"
    assert settings["data_directory"] == f"'{ctx.data('db') / 'pgdata'}'"
    assert settings["unix_socket_directories"] == f"'{ctx.run_dir('db')}'"
    assert settings["hba_file"] == f"'{ctx.etc('db')}/pg_hba.conf'"
    # 2 hosts x 3 instances x 8 workers x pool 4 + 20 spare.
    assert settings["max_connections"] == str(2 * 3 * 8 * 4 + 20)
    assert (ctx.etc("db") / "pg_ident.conf").exists()


def test_postgresql_max_connections_has_a_floor(tmp_path):
    small = TOPOLOGY.replace("workers = 8", "workers = 1")
    cfg = parse(small, tmp_path / "strata.toml")
    ctx = ctx_for(cfg, "data")
    DbRole().render(ctx)
    assert "max_connections = 100\n" in (ctx.etc("db") / "postgresql.conf").read_text()


# --- gunicorn --------------------------------------------------------------------------------------


def gunicorn_settings(path: Path) -> dict:
    source = path.read_text()
    compile(source, str(path), "exec")  # valid Python
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):  # server hooks
            continue
        assert isinstance(node, ast.Assign)
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def test_gunicorn_conf_per_instance(config):
    ctx = ctx_for(config, "app2")
    AppRole().render(ctx)
    etc = ctx.etc("app")
    assert sorted(p.name for p in etc.iterdir()) == [f"gunicorn-{i}.conf.py" for i in (1, 2, 3)]
    for i, port in zip((1, 2, 3), (9000, 9001, 9002), strict=True):
        s = gunicorn_settings(etc / f"gunicorn-{i}.conf.py")
        assert s["bind"] == [f"198.18.0.3:{port}"]
        assert parse_address(s["bind"][0]) == ("198.18.0.3", port)
        assert s["workers"] == 8
        assert s["timeout"] == s["graceful_timeout"] == 45
        assert s["proc_name"] == f"strata-app-{i}"
        assert s["forwarded_allow_ips"] == "198.18.0.1"


def test_render_is_idempotent(config):
    ctx = ctx_for(config, "app1")
    AppRole().render(ctx)
    conf = ctx.etc("app") / "gunicorn-1.conf.py"
    before = conf.stat().st_mtime_ns
    assert not write(conf, conf.read_text())
    AppRole().render(ctx)
    assert conf.stat().st_mtime_ns == before


# --- supervisor ------------------------------------------------------------------------------------


def read_supervisor(path: Path) -> configparser.ConfigParser:
    # BasicInterpolation undoes %% like supervisor's own expansion does.
    cp = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    cp.read_string(path.read_text())
    return cp


def test_supervisor_conf(tmp_path):
    var = tmp_path / "v%ar"
    sup = Supervisor(var)
    programs = [
        Program(
            "app-1",
            "app",
            ["/opt/bin/gunicorn", "-c", "/etc/g 1.conf.py", "strata.site.wsgi:application"],
            user="strata",
            environment={"PATH": "/usr/bin:/bin", "RATIO": "50%"},
            directory="/srv/x%y",
            stopwaitsecs=35,
        ),
        Program("web", "web", ["/usr/sbin/nginx", "-g", "daemon off;"], stopsignal="QUIT"),
    ]
    assert sup.render(programs) is True
    assert sup.conf == var / "etc" / "supervisord.conf"
    assert mode(sup.conf) == 0o600
    text = sup.conf.read_text()
    assert 'RATIO="50%%"' in text
    assert "/srv/x%%y" in text
    assert re.search(r"(?<!%)%(?!%)", text) is None  # every % is doubled
    cp = read_supervisor(sup.conf)
    assert cp.get("unix_http_server", "file") == str(var / "run" / "supervisor.sock")
    assert cp.get("supervisorctl", "serverurl") == f"unix://{var / 'run' / 'supervisor.sock'}"
    app, web = cp["program:app-1"], cp["program:web"]
    assert app["autostart"] == web["autostart"] == "false"
    assert app["user"] == "strata"
    assert "user" not in web
    assert app["directory"] == "/srv/x%y"
    assert web["directory"] == "/"
    assert app["stopwaitsecs"] == "35"
    assert web["stopsignal"] == "QUIT"
    assert shlex.split(app["command"]) == programs[0].command
    assert shlex.split(web["command"]) == programs[1].command
    assert dict_of_key_value_pairs(app["environment"]) == {"PATH": "/usr/bin:/bin", "RATIO": "50%"}
    assert "environment" not in web
    assert app["stdout_logfile"] == str(var / "log" / "app" / "app-1.log")
    assert (var / "log" / "supervisor").is_dir()
    assert (var / "run").is_dir()
    assert sup.render(programs) is False


def test_supervisor_render_changes_when_programs_change(tmp_path):
    sup = Supervisor(tmp_path)
    assert sup.render([Program("db", "db", ["/bin/true"])]) is True
    assert sup.render([Program("db", "db", ["/bin/true"], user="postgres")]) is True
    assert read_supervisor(sup.conf)["program:db"]["user"] == "postgres"


# --- write -----------------------------------------------------------------------------------------


def test_write(tmp_path):
    path = tmp_path / "a" / "b.conf"
    assert write(path, "one\n") is True
    assert path.read_text() == "one\n"
    assert mode(path) == 0o644
    assert write(path, "one\n") is False
    assert write(path, "two\n") is True
    assert path.read_text() == "two\n"
    assert not path.with_name("b.conf.new").exists()


def test_write_unchanged_still_fixes_mode(tmp_path):
    path = tmp_path / "secret.conf"
    assert write(path, "x", 0o600) is True
    assert mode(path) == 0o600
    path.chmod(0o644)
    assert write(path, "x", 0o600) is False
    assert mode(path) == 0o600


# --- PKI -------------------------------------------------------------------------------------------


def load_chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        {str(v) for v in ext.get_values_for_type(x509.DNSName)},
        {str(v) for v in ext.get_values_for_type(x509.IPAddress)},
    )


def test_ca_is_created_once(tmp_path):
    d = tmp_path / "pki"
    assert pki.ensure_ca(d, "Team") is True
    assert mode(d / "ca.key") == 0o600
    ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    ca.verify_directly_issued_by(ca)
    before = (d / "ca.crt").read_bytes(), (d / "ca.key").read_bytes()
    assert pki.ensure_ca(d, "Team") is False
    assert ((d / "ca.crt").read_bytes(), (d / "ca.key").read_bytes()) == before


def test_server_cert(tmp_path):
    d = tmp_path / "pki"
    pki.ensure_ca(d, "Team")
    assert (
        pki.ensure_server_cert(d, "web", ["team.example", "localhost"], ["127.0.0.1", "198.18.0.1"]) is True
    )
    assert mode(d / "web.key") == 0o600
    assert mode(d / "ca.key") == 0o600
    chain = load_chain(d / "web.crt")
    ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    assert len(chain) == 2
    assert chain[1] == ca
    cert = chain[0]
    cert.verify_directly_issued_by(ca)
    assert sans(cert) == ({"team.example", "localhost"}, {"127.0.0.1", "198.18.0.1"})
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "team.example"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ExtendedKeyUsageOID.SERVER_AUTH in eku
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= dt.timedelta(days=398)
    key = serialization.load_pem_private_key((d / "web.key").read_bytes(), password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_server_cert_kept_then_reissued_on_change(tmp_path):
    d = tmp_path / "pki"
    pki.ensure_ca(d, "Team")
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"]) is True
    first = (d / "web.crt").read_bytes()
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"]) is False
    assert (d / "web.crt").read_bytes() == first
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1", "198.18.0.9"]) is True
    assert sans(load_chain(d / "web.crt")[0])[1] == {"127.0.0.1", "198.18.0.9"}
    assert (
        pki.ensure_server_cert(d, "web", ["localhost", "team.example"], ["127.0.0.1", "198.18.0.9"]) is True
    )
    assert sans(load_chain(d / "web.crt")[0])[0] == {"localhost", "team.example"}
    assert (
        pki.ensure_server_cert(d, "web", ["team.example", "localhost"], ["198.18.0.9", "127.0.0.1"]) is False
    )


def test_server_cert_ipv6_address_is_normalised(tmp_path):
    d = tmp_path / "pki"
    pki.ensure_ca(d, "Team")
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["0:0::1"]) is True
    assert sans(load_chain(d / "web.crt")[0])[1] == {str(ipaddress.ip_address("::1"))}
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["::1"]) is False


def test_server_cert_renewed_before_expiry(tmp_path, monkeypatch):
    d = tmp_path / "pki"
    pki.ensure_ca(d, "Team")
    pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"])
    real_now = pki._now
    monkeypatch.setattr(pki, "_now", lambda: real_now() + dt.timedelta(days=370))
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"]) is True


def test_server_cert_reissued_when_the_ca_changes(tmp_path):
    d = tmp_path / "pki"
    pki.ensure_ca(d, "Team")
    pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"])
    (d / "ca.key").unlink()
    assert pki.ensure_ca(d, "Team") is True
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"]) is True
    new_ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    load_chain(d / "web.crt")[0].verify_directly_issued_by(new_ca)


def test_gunicorn_binds_ipv6_in_brackets(tmp_path):
    text = TOPOLOGY.replace('address = "198.18.0.2"', 'address = "fd00::2"')
    path = tmp_path / "strata.toml"
    config = parse(text, path)
    ctx = ctx_for(config, "app1")
    AppRole().render(ctx)
    bind = gunicorn_settings(ctx.etc("app") / "gunicorn-1.conf.py")["bind"][0]
    assert bind == "[fd00::2]:9000"
    assert parse_address(bind) == ("fd00::2", 9000)


def test_supervisor_environment_values_round_trip_or_are_refused(tmp_path):
    sup = Supervisor(tmp_path)
    env = {"B": "back\\slash", "C": "x,y=z", "D": "/srv/my site/strata.toml"}
    sup.render([Program("db", "db", ["/bin/true"], environment=env)])
    cp = read_supervisor(sup.conf)
    assert dict_of_key_value_pairs(cp["program:db"]["environment"]) == env
    before = sup.conf.read_text()
    with pytest.raises(DeployError, match="environment A holds a quote"):
        sup.render([Program("db", "db", ["/bin/true"], environment={"A": 'say "hi"'})])
    assert sup.conf.read_text() == before
