"""Each host gets only what it needs: the CA's name constraints, the certificates the control machine
issues per host, the secrets each host's roles need, and a host without the CA key that checks instead of
issuing."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from strata.deploy import config as cfgmod
from strata.deploy import control, pki
from strata.deploy import local as deploy
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.web.role import WebRole
from strata.deploy.system import DeployError

TOPOLOGY = """
[site]
domain = "team.example"

[hosts.front]
address = "198.18.0.1"

[hosts.app1]
address = "198.18.0.2"

[hosts.data]
address = "198.18.0.4"

[hosts.dir]
address = "198.18.0.5"

[hosts.mail]
address = "198.18.0.6"

[hosts.store]
address = "198.18.0.7"

[roles.web]
hosts = ["front"]

[roles.app]
hosts = ["app1"]

[roles.db]
hosts = ["data"]

[roles.domain]
hosts = ["dir"]

[roles.comms]
hosts = ["mail"]

[roles.files]
hosts = ["store"]
"""

# What no host but the one running the role may hold (and the first admin's password: no host at all).
ADMIN_ONLY = {
    "db_superuser_password": {"data"},
    "ldap_admin_password": {"dir"},
    "s3_admin_access_key": {"store"},
    "s3_admin_secret_key": {"store"},
    "admin_password": set(),
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    for key in (cfgmod.ENV_HOST, cfgmod.ENV_VAR_DIR, cfgmod.ENV_SECRETS):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "strata.toml"
    path.write_text(TOPOLOGY)
    config, _ = deploy.init(path)
    return config


def ca_cert(config) -> x509.Certificate:
    return x509.load_pem_x509_certificate((config.var_dir / "pki" / "ca.crt").read_bytes())


def ca_key(config) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((config.var_dir / "pki" / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def sign_leaf(config, name: str, path: Path) -> x509.Certificate:
    """Sign a server certificate for NAME with the CA's key, whatever its constraints say."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca = ca_cert(config)
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key(config).public_key()), critical=False
        )
        .sign(ca_key(config), hashes.SHA256())
    )
    path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return leaf


def verify(config, leaf: x509.Certificate, name: str) -> None:
    """Verify LEAF for NAME against the site's CA with cryptography's RFC 5280 verifier."""
    verifier = PolicyBuilder().store(Store([ca_cert(config)])).build_server_verifier(x509.DNSName(name))
    verifier.verify(leaf, [])


# --- the CA's name constraints -----------------------------------------------------------------------


def test_the_ca_is_constrained_to_the_sites_names_and_the_hosts_addresses(site):
    ext = ca_cert(site).extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    permitted = ext.value.permitted_subtrees or []
    assert {str(g.value) for g in permitted if isinstance(g, x509.DNSName)} == {"team.example", "localhost"}
    nets = {g.value for g in permitted if isinstance(g, x509.IPAddress)}
    assert nets == {
        ipaddress.ip_network(a)
        for a in ("127.0.0.1/32", "::1/128", *(f"{h.address}/32" for h in site.hosts.values()))
    }
    assert ext.value.excluded_subtrees is None


def test_a_leaf_for_another_site_fails_verification(site, tmp_path):
    good = sign_leaf(site, "files.team.example", tmp_path / "good.crt")
    verify(site, good, "files.team.example")  # a subdomain (a future content host) is covered
    bad = sign_leaf(site, "example.org", tmp_path / "bad.crt")
    with pytest.raises(VerificationError, match="(?i)name constraint|not permitted|excluded"):
        verify(site, bad, "example.org")
    ca = site.var_dir / "pki" / "ca.crt"
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    ok = subprocess.run(
        [openssl, "verify", "-CAfile", str(ca), str(tmp_path / "good.crt")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = subprocess.run(
        [openssl, "verify", "-CAfile", str(ca), str(tmp_path / "bad.crt")], capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "permitted subtree violation" in refused.stdout + refused.stderr


def test_an_unconstrained_ca_is_reissued_with_the_same_key_and_subject(tmp_path):
    d = tmp_path / "pki"
    pki.ensure_ca(d, "Team")  # as a CA made before name constraints existed
    key_before = (d / "ca.key").read_bytes()
    old = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    assert pki.ca_scope(old) is None
    pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"])
    leaf_before = (d / "web.crt").read_bytes()
    scope = pki.CaScope.of(["team.example", "localhost"], ["198.18.0.1", "127.0.0.1"])
    assert pki.constrain_ca(d, scope) is True
    assert pki.constrain_ca(d, scope) is False
    new = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    assert (d / "ca.key").read_bytes() == key_before
    assert new.subject == old.subject
    assert new.public_key() == old.public_key()
    assert pki.ca_scope(new) == scope
    # The certificates it signed stay valid: no new key, only the chain's copy of the CA changes.
    assert pki.ensure_server_cert(d, "web", ["localhost"], ["127.0.0.1"]) is False
    chain = x509.load_pem_x509_certificates((d / "web.crt").read_bytes())
    assert chain[0] == x509.load_pem_x509_certificates(leaf_before)[0]
    assert chain[1] == new
    chain[0].verify_directly_issued_by(new)


def test_a_host_added_to_the_topology_reissues_the_ca_certificate(site):
    before = ca_cert(site)
    text = TOPOLOGY + '\n[hosts.front2]\naddress = "198.18.0.9"\n'
    text = text.replace('hosts = ["front"]', 'hosts = ["front", "front2"]')
    site.path.write_text(text)
    config, changes = deploy.init(site.path)
    assert any("re-issued the local CA certificate" in c for c in changes), changes
    after = ca_cert(config)
    assert after.public_key() == before.public_key()
    assert pki.ca_scope(after) is not None
    assert "198.18.0.9/32" in pki.ca_scope(after).networks
    assert deploy.init(site.path)[1] == []  # and only once


def test_the_control_refuses_a_certificate_outside_the_constraints(site, tmp_path):
    with pytest.raises(DeployError, match=r"example\.org.*outside the CA's name constraints"):
        pki.ensure_server_cert(tmp_path, "web", ["example.org"], ["198.18.0.1"], ca_dir=site.var_dir / "pki")
    with pytest.raises(DeployError, match=r"10\.0\.0\.1.*outside"):
        pki.ensure_server_cert(tmp_path, "web", ["team.example"], ["10.0.0.1"], ca_dir=site.var_dir / "pki")


# --- the bundles: each host's secrets and certificates -------------------------------------------------


def read_toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def test_each_host_gets_only_its_roles_secrets(site):
    files, _ = control.build_bundles(site, site.var_dir)
    full = read_toml(site.secrets_path)
    assert set(files) == set(site.hosts)
    held = {h: set(read_toml(control.bundle_dir(site.var_dir, h) / "secrets.toml")) for h in files}
    for host, keys in held.items():
        assert keys == set(cfgmod.host_secret_keys(site, host)) & set(full), host
    assert held["front"] == set()  # the internet-facing web host holds no secret at all
    assert held["app1"] == {
        *cfgmod.APP_SECRETS,
        "s3_backup_access_key",
        "s3_backup_secret_key",
        "admin_password_hash",
    }
    # pgBackRest on the db host: its S3 identity and the repository's cipher passphrase.
    # The postgres exporter's login too (used only with the monitor role).
    assert held["data"] == {
        "db_superuser_password",
        "db_app_password",
        "db_monitor_password",
        "s3_pitr_access_key",
        "s3_pitr_secret_key",
        "pgbackrest_cipher_pass",
    }
    assert held["dir"] == {"ldap_admin_password", "ldap_app_password", "ldap_writer_password"}
    assert held["mail"] == {"comms_inbound_secret"}
    for key, allowed in ADMIN_ONLY.items():
        assert {h for h, keys in held.items() if key in keys} == allowed, key
    # The values are the control's own.
    app = read_toml(control.bundle_dir(site.var_dir, "app1") / "secrets.toml")
    assert all(app[k] == full[k] for k in app)


def test_bundles_hold_their_hosts_certificates_and_never_the_ca_key(site):
    files, changed = control.build_bundles(site, site.var_dir)
    assert changed
    top = site.var_dir / control.HOSTS_DIR
    assert oct(top.stat().st_mode & 0o777) == oct(0o700)
    assert not [p for p in top.rglob("ca.key")]
    front = control.bundle_dir(site.var_dir, "front")
    assert {f.path for f in files["front"]} == {
        "secrets.toml",
        "pki/ca.crt",
        "pki/web.crt",
        "pki/web.key",
        "pki/content.crt",
        "pki/content.key",
    }
    assert {str(p.relative_to(front)) for p in front.rglob("*") if p.is_file()} == {
        f.path for f in files["front"]
    }
    for f in files["front"]:
        assert (front / f.path).stat().st_mode & 0o777 == f.mode, f.path
    assert WebRole().certificates(site, site.hosts["front"])[0].stem == "web"
    assert not pki.check_server_cert(front / "pki", WebRole().certificates(site, site.hosts["front"])[0])
    # A second build changes nothing (a second deploy reports changed=0).
    before = {p: p.read_bytes() for p in top.rglob("*") if p.is_file()}
    assert control.build_bundles(site, site.var_dir)[1] == []
    assert {p: p.read_bytes() for p in top.rglob("*") if p.is_file()} == before


def test_an_installed_bundle_makes_a_deployed_host(site, tmp_path, monkeypatch):
    control_var = site.var_dir  # the control's: STRATA_VAR_DIR below makes var_dir the host's
    files, _ = control.build_bundles(site, control_var)
    host_var = tmp_path / "front-var"
    (host_var / "pki").mkdir(parents=True)
    (host_var / "pki" / "ca.key").write_text("a copy left by an older deploy\n")
    changed = control.install_bundle(control_var, "front", files["front"], host_var)
    assert "removed pki/ca.key" in changed
    assert not (host_var / "pki" / "ca.key").exists()
    assert control.install_bundle(control_var, "front", files["front"], host_var) == []
    monkeypatch.setenv(cfgmod.ENV_VAR_DIR, str(host_var))
    monkeypatch.setenv(cfgmod.ENV_HOST, "front")
    host = cfgmod.load(site.path)
    assert cfgmod.is_deployed_host(host)
    # `strata up`'s init makes nothing there: no secret, no CA.
    assert deploy.init(site.path)[1] == []
    assert not (host_var / "pki" / "ca.key").exists()
    assert cfgmod.load_secrets(host) == {}
    # An app host's file is checked for the app's keys only.
    monkeypatch.setenv(cfgmod.ENV_HOST, "app1")
    app_var = tmp_path / "app-var"
    control.install_bundle(control_var, "app1", files["app1"], app_var)
    monkeypatch.setenv(cfgmod.ENV_VAR_DIR, str(app_var))
    app = cfgmod.load(site.path)
    assert set(cfgmod.load_secrets(app)) == set(cfgmod.host_secret_keys(app, "app1"))
    secrets = read_toml(app_var / "secrets.toml")
    del secrets["django_secret_key"]
    cfgmod.write_secrets(app_var / "secrets.toml", secrets)
    with pytest.raises(cfgmod.ConfigError, match="django_secret_key: missing secret.*strata deploy"):
        cfgmod.load_secrets(app)


# --- a host without the CA key checks, never issues -------------------------------------------------------


@pytest.fixture
def front(site, tmp_path, monkeypatch) -> HostContext:
    files, _ = control.build_bundles(site, site.var_dir)
    host_var = tmp_path / "front-var"
    control.install_bundle(site.var_dir, "front", files["front"], host_var)
    monkeypatch.setenv(cfgmod.ENV_VAR_DIR, str(host_var))
    config = cfgmod.load(site.path)
    return HostContext(config, {}, config.hosts["front"])


def test_a_host_accepts_the_certificate_it_received(front):
    before = (front.pki / "web.crt").read_bytes()
    WebRole().ensure_certificates(front)
    assert (front.pki / "web.crt").read_bytes() == before
    assert not (front.pki / "ca.key").exists()


def test_a_host_refuses_a_missing_certificate(front):
    (front.pki / "web.crt").unlink()
    with pytest.raises(
        DeployError, match=r"web\.crt is missing.*run `strata deploy` from the control machine"
    ):
        WebRole().ensure_certificates(front)
    assert not (front.pki / "web.crt").exists()  # nothing issued


def test_a_host_refuses_a_certificate_for_other_names(site, front, tmp_path):
    other = tmp_path / "other"
    pki.ensure_ca(other, "Other")
    pki.ensure_server_cert(other, "web", ["localhost"], ["127.0.0.1"])
    # Another CA's certificate, then this CA's for other names: both refused.
    shutil.copy(other / "web.crt", front.pki / "web.crt")
    shutil.copy(other / "web.key", front.pki / "web.key")
    with pytest.raises(DeployError, match=r"web\.crt is not issued by pki/ca\.crt"):
        WebRole().ensure_certificates(front)
    control_pki = site.path.parent / site.site["var_dir"] / "pki"  # the control's CA, for other names
    pki.ensure_server_cert(front.pki, "web", ["localhost"], ["127.0.0.1"], ca_dir=control_pki)
    with pytest.raises(DeployError, match=r"web\.crt does not cover exactly .*team\.example"):
        WebRole().ensure_certificates(front)


def test_a_host_refuses_a_certificate_about_to_expire(front, monkeypatch):
    real_now = pki._now
    monkeypatch.setattr(pki, "_now", lambda: real_now() + dt.timedelta(days=380))
    with pytest.raises(DeployError, match=r"web\.crt expires on"):
        WebRole().ensure_certificates(front)
