"""The web role's TLS: the rendered profile (Mozilla intermediate, no CBC), the ACME challenge location,
the public certificate's options and the checks of the admin's files, certbot's command and deploy hook."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from strata.deploy import packages
from strata.deploy.config import ConfigError, parse
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.web import tls
from strata.deploy.roles.web.role import WebRole
from strata.deploy.roles.web.spec import LETS_ENCRYPT
from tests.support.acme import make_cert, write_pair

PATH = "/srv/site/strata.toml"


def topology(web: str = "", domain: str = "team.example", web_hosts: str = '["front"]') -> str:
    return f"""
[site]
domain = "{domain}"
var_dir = "var"

[hosts.front]
address = "198.18.0.1"

[hosts.back]
address = "198.18.0.2"

[roles.web]
hosts = {web_hosts}
http_port = 8080
https_port = 8443
{web}

[roles.app]
hosts = ["back"]

[roles.db]
hosts = ["back"]

[roles.files]
hosts = ["back"]
"""


ACME = 'tls = "acme"\nacme_email = "admin@team.example"\nacme_ca_file = "/etc/ssl/test-acme-ca.pem"\n'


@pytest.fixture(autouse=True)
def no_service_users(monkeypatch):
    monkeypatch.setattr("strata.deploy.roles.web.role.service_user", lambda name: None)


def render_web(tmp_path: Path, web: str = "", **kw) -> tuple[str, HostContext]:
    path = tmp_path / "strata.toml"
    config = parse(topology(web, **kw), path)
    ctx = HostContext(config, {}, config.hosts["front"])
    WebRole().render(ctx)
    return (ctx.etc("web") / "nginx.conf").read_text(), ctx


def server_blocks(text: str) -> list[str]:
    """Return the text of each `server { ... }` block of the http block (not the upstreams' lines)."""
    blocks, depth, current = [], 0, None
    for line in text.splitlines():
        if current is None and re.match(r"^    server \{$", line):
            current, depth = [], 0
        if current is not None:
            current.append(line)
            depth += line.count("{") - line.count("}")
            if depth == 0:
                blocks.append("\n".join(current))
                current = None
    return blocks


# --- the TLS profile -------------------------------------------------------------------------------------


def test_tls_settings_are_in_one_place_and_follow_mozilla_intermediate(tmp_path):
    text, _ = render_web(tmp_path)
    for directive in ("ssl_protocols", "ssl_ciphers", "ssl_prefer_server_ciphers", "ssl_session_cache"):
        assert len(re.findall(rf"^\s*{directive} ", text, re.M)) == 1, directive
    assert re.search(r"^    ssl_protocols TLSv1\.2 TLSv1\.3;$", text, re.M)
    assert re.search(r"^    ssl_prefer_server_ciphers on;$", text, re.M)
    assert re.search(r"^    ssl_session_tickets off;$", text, re.M)
    assert re.search(r"^    ssl_session_timeout 1d;$", text, re.M)
    assert "ssl_stapling" not in text  # the site CA's certificate: nothing to staple


def test_cipher_list_is_ecdhe_with_aead_only(tmp_path):
    text, _ = render_web(tmp_path)
    (ciphers,) = re.findall(r"^\s*ssl_ciphers (\S+);$", text, re.M)
    names = ciphers.split(":")
    assert names
    assert all(n.startswith("ECDHE-") for n in names)
    assert all(n.endswith(("-GCM-SHA256", "-GCM-SHA384", "-CHACHA20-POLY1305")) for n in names)
    # What OpenSSL makes of the list: every suite an AEAD with ECDHE, none CBC.
    out = subprocess.run(["openssl", "ciphers", "-v", ciphers], capture_output=True, text=True, check=True)
    tls12 = [line for line in out.stdout.splitlines() if "TLSv1.2" in line]
    assert len(tls12) == len(names)
    for line in tls12:
        assert "Kx=ECDH" in line, line
        assert re.search(r"Enc=(AESGCM|CHACHA20/POLY1305)", line), line
        assert "CBC" not in line
        assert "SHA1" not in line


def test_site_ca_serves_the_site_certificate_in_one_https_server(tmp_path):
    text, ctx = render_web(tmp_path)
    https = [b for b in server_blocks(text) if "ssl http2" in b]
    assert len(https) == 2  # the site, and the content host
    (site,) = [b for b in https if "server_name team.example;" in b]
    assert f"ssl_certificate {ctx.pki / 'web.crt'};" in site
    assert "/.well-known/acme-challenge/" not in text


def test_the_content_host_has_its_own_server_certificate_and_sandbox(tmp_path):
    """File bytes only from the content host: its own certificate from the site CA, the sandbox CSP and
    nosniff on every answer, the internal locations there (and, sandboxed, for WebDAV on the site's);
    the site's CSP lets previews in from it (images, media, frames) and nothing else."""
    text, ctx = render_web(tmp_path)
    (content,) = [b for b in server_blocks(text) if "server_name content.team.example;" in b]
    (site,) = [b for b in server_blocks(text) if "server_name team.example;" in b and "ssl http2" in b]
    assert f"ssl_certificate {ctx.pki / 'content.crt'};" in content
    assert """add_header Content-Security-Policy "sandbox; default-src 'none'" always;""" in content
    assert 'add_header X-Content-Type-Options "nosniff" always;' in content
    assert re.search(r"location \^~ /_files_(s3|local)/ \{\n +internal;", content)
    # On the site's own name the internal locations serve only the network drive (WebDAV GET), under
    # the same sandbox: a location's add_header replaces the server's, so each carries its own.
    drive = re.findall(r"location \^~ /_files_(?:s3|local)/ \{.*?\n        \}", site, re.S)
    assert len(drive) == 1
    for block in drive:
        assert """add_header Content-Security-Policy "sandbox; default-src 'none'" always;""" in block
        assert 'add_header X-Content-Type-Options "nosniff" always;' in block
    assert "location ^~ /c/ {\n            return 404;" in site
    origin = "https://content.team.example:8443"
    assert f"img-src 'self' data: {origin}; media-src {origin}; frame-src {origin};" in site
    assert [r.names for r in WebRole().certificates(ctx.config, ctx.host) if r.stem == "content"] == [
        ("content.team.example",)
    ]


def test_acme_challenge_is_served_on_http_before_the_redirect(tmp_path):
    text, ctx = render_web(tmp_path, ACME)
    (http,) = [b for b in server_blocks(text) if "listen 198.18.0.1:8080;" in b]
    webroot = tls.AcmePaths.of(ctx.var).webroot
    challenge = http.index("location ^~ /.well-known/acme-challenge/ {")
    assert challenge < http.index("return 301 https://")
    assert f"root {webroot};" in http
    assert "try_files $uri =404;" in http


def test_acme_serves_the_site_certificate_until_certbot_has_one(tmp_path):
    text, ctx = render_web(tmp_path, ACME)
    paths = tls.AcmePaths.of(ctx.var)
    (public,) = [b for b in server_blocks(text) if "ssl http2;" in b and "server_name team.example;" in b]
    (internal,) = [b for b in server_blocks(text) if "default_server" in b]
    assert f"ssl_certificate {paths.cert};" in public
    assert "ssl_stapling on;" in public
    assert os.readlink(paths.cert) == str(ctx.pki / "web.crt")
    assert os.readlink(paths.key) == str(ctx.pki / "web.key")
    # By address (probes): the site CA's certificate, only /-/ping.
    assert f"ssl_certificate {ctx.pki / 'web.crt'};" in internal
    assert "location = /-/ping" in internal
    assert "return 421;" in internal


def test_acme_serves_certbots_lineage_once_it_exists(tmp_path):
    _, ctx = render_web(tmp_path, ACME)
    paths = tls.AcmePaths.of(ctx.var)
    cert, key = make_cert(["team.example"])
    paths.lineage.mkdir(parents=True)
    write_pair(paths.lineage / "fullchain.pem", paths.lineage / "privkey.pem", cert, key)
    render_web(tmp_path, ACME)
    assert os.readlink(paths.cert) == str(paths.lineage / "fullchain.pem")
    assert os.readlink(paths.key) == str(paths.lineage / "privkey.pem")


def test_files_serve_the_admins_files(tmp_path):
    text, _ = render_web(
        tmp_path, 'tls = "files"\ncert_file = "/etc/ssl/site.pem"\nkey_file = "/etc/ssl/site.key"\n'
    )
    assert "ssl_certificate /etc/ssl/site.pem;" in text
    assert "ssl_certificate_key /etc/ssl/site.key;" in text
    assert "acme-challenge" not in text


# --- the options -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("web", "key", "words"),
    [
        ('tls = "letsencrypt"', "roles.web.tls", "expected one of site-ca, files, acme"),
        ('tls = "files"\nkey_file = "/k.pem"', "roles.web.cert_file", 'required with tls = "files"'),
        ('tls = "files"\ncert_file = "/c.pem"', "roles.web.key_file", 'required with tls = "files"'),
        ('tls = "files"\ncert_file = "c.pem"\nkey_file = "/k.pem"', "roles.web.cert_file", "absolute path"),
        ('tls = "files"\ncert_file = "/c.pem"\nkey_file = "/etc/../k"', "roles.web.key_file", "'..'"),
        ('tls = "files"\ncert_file = "/c.pem"\nkey_file = "/c\\n.pem"', "roles.web.key_file", "control"),
        ('tls = "files"\ncert_file = "/c.pem"\nkey_file = "/c.pem"', "roles.web.key_file", "must differ"),
        ('cert_file = "/c.pem"', "roles.web.cert_file", 'only used with tls = "files"'),
        ('tls = "acme"', "roles.web.acme_email", 'required with tls = "acme"'),
        ('tls = "acme"\nacme_email = "admin"', "roles.web.acme_email", "not a plain address"),
        ('tls = "acme"\nacme_email = "a@b.c\\nx"', "roles.web.acme_email", "control character"),
        (ACME + 'acme_directory = "http://acme.example/dir"', "roles.web.acme_directory", "https://"),
        (ACME.replace("/etc/ssl/test-acme-ca.pem", "ca.pem"), "roles.web.acme_ca_file", "absolute path"),
        (ACME + 'cert_file = "/c.pem"', "roles.web.cert_file", 'only used with tls = "files"'),
        ('acme_email = "a@b.example"', "roles.web.acme_email", 'only used with tls = "acme"'),
        ("tls = 1", "roles.web.tls", "expected str"),
    ],
)
def test_tls_option_errors_name_the_key_in_one_line(web, key, words):
    with pytest.raises(ConfigError) as info:
        parse(topology(web), PATH)
    msg = str(info.value)
    assert "\n" not in msg
    assert info.value.key == key
    assert msg.startswith(f"{PATH}: {key}: ")
    assert words in msg


def test_acme_with_a_public_ca_needs_port_80():
    real = 'tls = "acme"\nacme_email = "admin@team.example"\n'
    with pytest.raises(ConfigError) as info:
        parse(topology(real), PATH)
    assert info.value.key == "roles.web.http_port"
    assert "port 80, not 8080" in info.value.message
    assert (
        parse(topology(real).replace("http_port = 8080", "http_port = 80"), PATH).roles["web"]["http_port"]
        == 80
    )


def test_acme_needs_a_public_name_and_one_web_host():
    with pytest.raises(ConfigError) as info:
        parse(topology(ACME, domain="localhost"), PATH)
    assert info.value.key == "site.domain"
    with pytest.raises(ConfigError) as info:
        parse(topology(ACME, web_hosts='["front", "back"]'), PATH)
    assert info.value.key == "roles.web.hosts"


def test_defaults_are_the_site_ca_and_lets_encrypt():
    web = parse(topology(), PATH).roles["web"]
    assert web["tls"] == "site-ca"
    assert web["acme_directory"] == LETS_ENCRYPT
    acme = parse(topology(ACME), PATH).roles["web"]
    assert acme["acme_directory"] == LETS_ENCRYPT


def test_certbot_is_installed_only_for_acme():
    assert "certbot" not in packages.role_packages(parse(topology(), PATH))["web"]
    assert packages.role_packages(parse(topology(ACME), PATH))["web"] == [
        "nginx",
        "prometheus-nginx-exporter",
        "certbot",
    ]
    assert "certbot" in packages.local_packages("test")
    assert "certbot" not in packages.local_packages("run")
    assert {"testssl.sh", "pebble"} <= set(packages.local_packages("test"))


# --- the admin's files -----------------------------------------------------------------------------------


def files_config(tmp_path: Path, domain: str = "team.example"):
    web = f'tls = "files"\ncert_file = "{tmp_path}/site.pem"\nkey_file = "{tmp_path}/site.key"\n'
    return parse(topology(web, domain=domain), PATH)


def check_error(config) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        tls.check_files(config)
    assert "\n" not in str(info.value)
    return info.value


def test_files_that_match_pass(tmp_path):
    cert, key = make_cert(["team.example", "www.team.example"])
    write_pair(tmp_path / "site.pem", tmp_path / "site.key", cert, key)
    tls.check_files(files_config(tmp_path))
    wild, wkey = make_cert(["*.example.org"])
    write_pair(tmp_path / "site.pem", tmp_path / "site.key", wild, wkey)
    tls.check_files(files_config(tmp_path, domain="team.example.org"))


def test_files_errors_name_the_key(tmp_path):
    config = files_config(tmp_path)
    assert check_error(config).key == "roles.web.cert_file"  # missing
    cert, key = make_cert(["team.example"])
    write_pair(tmp_path / "site.pem", tmp_path / "site.key", cert, key)

    (tmp_path / "site.pem").write_text("not a certificate\n")
    err = check_error(config)
    assert (err.key, "holds no PEM certificate" in err.message) == ("roles.web.cert_file", True)

    other, _ = make_cert(["team.example"])
    (tmp_path / "site.pem").write_bytes(other.public_bytes(serialization.Encoding.PEM))
    err = check_error(config)
    assert (err.key, "is not the key of the certificate" in err.message) == ("roles.web.key_file", True)

    write_pair(tmp_path / "site.pem", tmp_path / "site.key", cert, key)
    os.chmod(tmp_path / "site.key", 0o644)
    err = check_error(config)
    assert (err.key, "readable by other users" in err.message) == ("roles.web.key_file", True)

    os.chmod(tmp_path / "site.key", 0o600)
    (tmp_path / "site.key").write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    assert check_error(config).key == "roles.web.key_file"

    write_pair(tmp_path / "site.pem", tmp_path / "site.key", cert, key)
    err = check_error(files_config(tmp_path, domain="other.example"))
    assert (err.key, "does not cover other.example" in err.message) == ("roles.web.cert_file", True)

    old, old_key = make_cert(["team.example"], days=-1)
    write_pair(tmp_path / "site.pem", tmp_path / "site.key", old, old_key)
    err = check_error(config)
    assert (err.key, "expired" in err.message) == ("roles.web.cert_file", True)


def test_wildcard_covers_one_label_only():
    cert, _ = make_cert(["*.team.example"])
    assert tls.covers(cert, "www.team.example")
    assert not tls.covers(cert, "team.example")
    assert not tls.covers(cert, "a.b.team.example")


# --- certbot ---------------------------------------------------------------------------------------------


def test_certbot_commands_stay_under_var_and_ask_nothing(tmp_path):
    config = parse(topology(ACME), tmp_path / "strata.toml")
    paths = tls.AcmePaths.of(config.var_dir)
    argv = tls.certbot_argv(config, paths, "certonly")
    assert argv[:3] == [tls.CERTBOT, "certonly", "--non-interactive"]
    for flag, value in (
        ("--config-dir", str(paths.state / "config")),
        ("--work-dir", str(paths.state / "work")),
        ("--logs-dir", str(paths.logs)),
        ("-w", str(paths.webroot)),
        ("-d", "team.example"),
        ("-m", "admin@team.example"),
        ("--server", LETS_ENCRYPT),
        ("--cert-name", tls.CERT_NAME),
    ):
        assert argv[argv.index(flag) + 1] == value
    assert {"--agree-tos", "--webroot", "--keep-until-expiring"} <= set(argv)
    for p in (paths.state, paths.logs, paths.webroot):
        assert p.is_relative_to(config.var_dir)
    renew = tls.certbot_argv(config, paths, "renew")
    assert renew[:3] == [tls.CERTBOT, "renew", "--non-interactive"]
    assert renew[renew.index("--deploy-hook") + 1] == tls.hook_command(paths)
    assert tls.certbot_env(config)["REQUESTS_CA_BUNDLE"] == "/etc/ssl/test-acme-ca.pem"


def test_acme_adds_the_renewal_program(tmp_path):
    config = parse(topology(ACME), tmp_path / "strata.toml")
    programs = WebRole().programs(HostContext(config, {}, config.hosts["front"]))
    assert [p.name for p in programs] == ["web", "web-acme"]
    assert programs[1].command[-1] == "renew-loop"
    assert programs[1].ports == []
    plain = parse(topology(), tmp_path / "strata.toml")
    assert [p.name for p in WebRole().programs(HostContext(plain, {}, plain.hosts["front"]))] == ["web"]


def test_deploy_hook_points_the_links_and_reloads_nginx(tmp_path, monkeypatch):
    paths = tls.AcmePaths.of(tmp_path)
    lineage = tmp_path / "live" / tls.CERT_NAME
    # A stand-in for nginx's master: SIGHUP ends it, which shows the hook sent it.
    proc = subprocess.Popen(["sleep", "60"])
    try:
        paths.pid.parent.mkdir(parents=True)
        paths.pid.write_text(f"{proc.pid}\n")
        monkeypatch.setenv("RENEWED_LINEAGE", str(lineage))
        assert tls.main(["tls", "deployed", str(paths.links), str(paths.pid)]) == 0
        assert proc.wait(timeout=10) == -signal.SIGHUP
    finally:
        proc.kill()
        proc.wait()
    assert os.readlink(paths.cert) == str(lineage / "fullchain.pem")
    assert os.readlink(paths.key) == str(lineage / "privkey.pem")
    assert tls.main(["tls", "nonsense"]) == 2
