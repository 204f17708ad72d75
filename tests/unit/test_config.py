"""strata.deploy.config: the default topology, every validation error, and the secrets file."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from strata.deploy import config as cfgmod
from strata.deploy.config import ConfigError, load, parse

DEFAULT = Path(cfgmod.__file__).parent / "default.toml"
PATH = "/srv/site/strata.toml"

BASE = """
[hosts.a]
address = "127.0.0.1"

[roles.web]
hosts = ["a"]

[roles.app]
hosts = ["a"]

[roles.db]
hosts = ["a"]
"""

TWO_HOSTS = """
[hosts.a]
address = "198.18.0.1"

[hosts.b]
address = "198.18.0.2"
"""


def topology(web="", app="", db="", hosts='[hosts.a]\naddress = "127.0.0.1"\n', top="", tail="") -> str:
    """A minimal valid topology; each argument adds lines to its table."""
    return (
        f'{top}\n{hosts}\n[roles.web]\nhosts = ["a"]\n{web}\n[roles.app]\nhosts = ["a"]\n{app}\n'
        f'[roles.db]\nhosts = ["a"]\n{db}\n{tail}'
    )


def config_error(text: str, path: str = PATH) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text, path)
    return info.value


def assert_names(exc: ConfigError, key: str, path: str = PATH) -> str:
    """The message is one line starting with the file and the exact key; return it."""
    msg = str(exc)
    assert "\n" not in msg
    assert exc.key == key
    assert exc.path == path
    assert msg.startswith(f"{path}: {key}: ")
    assert exc.message
    assert msg.endswith(exc.message)
    return msg


# --- the default file ------------------------------------------------------------------------------


def test_default_file_gives_documented_defaults():
    config = parse(DEFAULT.read_text(encoding="utf-8"), DEFAULT)
    assert list(config.roles) == list(cfgmod.ROLE_NAMES)
    assert len(config.roles) == 7
    # Every role runs but the monitor, placed and switched off (enabled = false).
    assert [r for r in cfgmod.ROLE_NAMES if not config.enabled(r)] == ["monitor"]
    assert list(config.hosts) == ["local"]
    assert config.hosts["local"].address == "127.0.0.1"
    assert config.roles_on("local") == [r for r in cfgmod.ROLE_NAMES if r != "monitor"]
    instances = config.app_instances()
    assert [(i.name, i.index, i.port) for i in instances] == [("app-1", 1, 18101), ("app-2", 2, 18102)]
    assert config.url() == "https://localhost:18443/"
    assert config.roles["web"]["http_port"] == 18080
    assert config.roles["db"]["port"] == 15432
    assert config.site["var_dir"] == "var"
    assert config.var_dir == (DEFAULT.parent / "var").resolve()
    assert config.secrets_path == config.var_dir / "secrets.toml"


def test_default_file_equals_builtin_defaults():
    """Every value written in default.toml is the schema's default (the file documents them)."""
    config = parse(DEFAULT.read_text(encoding="utf-8"), DEFAULT)
    for key, (_typ, default) in cfgmod.SITE_OPTIONS.items():
        assert config.site[key] == default, key
    for role, options in cfgmod.ROLE_OPTIONS.items():
        for key, (_typ, default) in options.items():
            assert config.roles[role][key] == default, (role, key)


def test_minimal_topology_uses_defaults():
    config = parse(BASE, PATH)
    assert config.site["domain"] == "localhost"
    assert config.roles["app"]["instances"] == 2
    assert not config.enabled("comms")
    assert not config.enabled("files")
    assert config.hosts_of("comms") == []
    assert config.url() == "https://localhost:18443/"


def test_url_omits_port_443():
    config = parse(topology(web="https_port = 443", tail='[site]\ndomain = "team.example"'), PATH)
    assert config.url() == "https://team.example/"


def test_optional_role_can_be_disabled():
    config = parse(topology(tail='[roles.comms]\nhosts = ["a"]\nenabled = false'), PATH)
    assert "comms" in config.roles
    assert not config.enabled("comms")
    assert config.roles_on("a") == ["web", "app", "db"]


# --- unknown keys and roles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (topology(top="colour = 1"), "colour"),
        (topology(tail="[extra]\nx = 1"), "extra"),
        (topology(tail="[site]\nfoo = 1"), "site.foo"),
        (topology(hosts='[hosts.a]\naddress = "127.0.0.1"\nport = 22'), "hosts.a.port"),
        (topology(web="threads = 4"), "roles.web.threads"),
        (topology(app="replicas = 4"), "roles.app.replicas"),
        (topology(db='password = "x"'), "roles.db.password"),
        (topology(tail='[roles.comms]\nhosts = ["a"]\nsmtp_port = 25'), "roles.comms.smtp_port"),
    ],
)
def test_unknown_key(text, key):
    msg = assert_names(config_error(text), key)
    assert "unknown key" in msg


def test_unknown_role():
    msg = assert_names(config_error(topology(tail='[roles.cache]\nhosts = ["a"]')), "roles.cache")
    assert "unknown role" in msg
    assert "web" in msg


# --- roles and placement ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["web", "app", "db"])
def test_missing_required_role(role):
    text = BASE.replace(f'[roles.{role}]\nhosts = ["a"]\n', "")
    assert f"[roles.{role}]" not in text
    msg = assert_names(config_error(text), f"roles.{role}")
    assert "required role is missing" in msg


@pytest.mark.parametrize("role", ["web", "app", "db"])
def test_required_role_cannot_be_disabled(role):
    text = topology(**{role: "enabled = false"})
    msg = assert_names(config_error(text), f"roles.{role}.enabled")
    assert "cannot be disabled" in msg


def test_missing_hosts_key_in_role():
    text = BASE.replace('[roles.db]\nhosts = ["a"]\n', "[roles.db]\nport = 15432\n")
    assert_names(config_error(text), "roles.db.hosts")


@pytest.mark.parametrize("role", ["web", "app", "db"])
def test_role_on_unknown_host(role):
    text = BASE.replace(f'[roles.{role}]\nhosts = ["a"]', f'[roles.{role}]\nhosts = ["nowhere"]')
    msg = assert_names(config_error(text), f"roles.{role}.hosts")
    assert "'nowhere'" in msg


@pytest.mark.parametrize("role", ["db", "comms"])
def test_singular_role_on_two_hosts(role):
    text = (
        TWO_HOSTS
        + '[roles.web]\nhosts = ["a"]\n[roles.app]\nhosts = ["a"]\n'
        + (
            '[roles.db]\nhosts = ["a", "b"]\n'
            if role == "db"
            else '[roles.db]\nhosts = ["b"]\n[roles.comms]\nhosts = ["a", "b"]\n'
        )
    )
    msg = assert_names(config_error(text), f"roles.{role}.hosts")
    assert "exactly one host" in msg


def test_multi_host_roles_on_two_hosts_are_fine():
    text = TWO_HOSTS + (
        '[roles.web]\nhosts = ["a", "b"]\n[roles.app]\nhosts = ["a", "b"]\n'
        '[roles.db]\nhosts = ["b"]\n[roles.files]\nhosts = ["b"]\n'
    )
    config = parse(text, PATH)
    assert [h.name for h in config.hosts_of("web")] == ["a", "b"]
    assert len(config.app_instances()) == 4
    assert [i.port for i in config.app_instances("b")] == [18101, 18102]


def test_duplicate_host_in_list():
    text = topology().replace('[roles.app]\nhosts = ["a"]', '[roles.app]\nhosts = ["a", "a"]')
    msg = assert_names(config_error(text), "roles.app.hosts")
    assert "twice" in msg


@pytest.mark.parametrize("hosts", ["[]", '"a"', "[1]"])
def test_hosts_must_be_a_non_empty_list_of_names(hosts):
    text = topology().replace('[roles.web]\nhosts = ["a"]', f"[roles.web]\nhosts = {hosts}")
    assert_names(config_error(text), "roles.web.hosts")


def test_no_hosts_table():
    text = '[roles.web]\nhosts = ["a"]\n'
    assert_names(config_error(text), "hosts")


# --- host addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("999.1.1.1", "not an IP address"),
        ("localhost", "not an IP address"),
        ("", "not an IP address"),
        ("0.0.0.0", "not a host address"),  # noqa: S104
        ("::", "not a host address"),
        ("224.0.0.1", "not a host address"),
    ],
)
def test_bad_address(address, words):
    text = topology(hosts=f'[hosts.a]\naddress = "{address}"')
    msg = assert_names(config_error(text), "hosts.a.address")
    assert words in msg


def test_missing_address():
    assert_names(config_error(topology(hosts="[hosts.a]\n")), "hosts.a.address")


def test_ipv6_address_is_accepted_and_normalised():
    config = parse(topology(hosts='[hosts.a]\naddress = "0:0::1"'), PATH)
    assert config.hosts["a"].address == "::1"
    assert config.hosts["a"].cidr() == "::1/128"
    assert config.hosts["a"].is_loopback


def test_bad_host_name():
    text = topology(hosts='[hosts."a b"]\naddress = "127.0.0.1"')
    assert_names(config_error(text), "hosts.a b")


# --- types -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (topology(app='port = "18101"'), "roles.app.port", "expected int, got str"),
        (topology(web="workers = true"), "roles.web.workers", "expected int, got bool"),
        (topology(db="port = 15432.0"), "roles.db.port", "expected int, got float"),
        (topology(tail="[site]\nhsts_seconds = false"), "site.hsts_seconds", "expected int, got bool"),
        (topology(tail="[site]\nname = 3"), "site.name", "expected str, got int"),
        (topology(web='enabled = "yes"'), "roles.web.enabled", "expected bool, got str"),
        (topology(hosts="[hosts.a]\naddress = 2130706433"), "hosts.a.address", "expected str, got int"),
    ],
)
def test_wrong_type(text, key, words):
    msg = assert_names(config_error(text), key)
    assert words in msg


def test_table_expected():
    assert_names(config_error(topology(top="site = 3")), "site")
    assert_names(config_error("hosts = 3\n"), "hosts")
    assert_names(config_error(topology(web="[roles.web.extra]")), "roles.web.extra")


# --- ports -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (topology(web="http_port = 0"), "roles.web.http_port"),
        (topology(web="https_port = 65536"), "roles.web.https_port"),
        (topology(db="port = -1"), "roles.db.port"),
        (topology(app="port = 70000"), "roles.app.port"),
        (topology(app="port = 65535\ninstances = 2"), "roles.app.port (instance 2)"),
    ],
)
def test_port_out_of_range(text, key):
    msg = assert_names(config_error(text), key)
    assert "out of range 1..65535" in msg


def test_highest_port_is_fine():
    config = parse(topology(app="port = 65534\ninstances = 2"), PATH)
    assert [i.port for i in config.app_instances()] == [65534, 65535]


@pytest.mark.parametrize(
    ("text", "key", "other"),
    [
        (topology(web="http_port = 15432"), "roles.db.port", "roles.web.http_port"),
        (topology(web="http_port = 18443"), "roles.web.https_port", "roles.web.http_port"),
        (topology(app="port = 18443"), "roles.app.port", "roles.web.https_port"),
        (
            topology(app="port = 18101\ninstances = 2", db="port = 18102"),
            "roles.db.port",
            "roles.app.port (instance 2)",
        ),
        (topology(app="port = 18079\ninstances = 2"), "roles.app.port (instance 2)", "roles.web.http_port"),
        (
            topology(app="port = 18101\ninstances = 2\nevents_port = 18102"),
            "roles.app.events_port",
            "roles.app.port (instance 2)",
        ),
    ],
)
def test_two_listeners_on_one_port(text, key, other):
    msg = assert_names(config_error(text), key)
    assert f"also used by {other}" in msg
    assert "127.0.0.1" in msg


def test_app_range_next_to_another_port_is_fine():
    config = parse(topology(app="port = 18101\ninstances = 2", db="port = 18103"), PATH)
    assert [i.port for i in config.app_instances()] == [18101, 18102]


@pytest.mark.parametrize("files", ["", '[roles.files]\nhosts = ["b"]\nenabled = false\n'])
def test_file_fallback_needs_web_and_app_on_one_host(files):
    text = TWO_HOSTS + (
        '[roles.web]\nhosts = ["a"]\n[roles.app]\nhosts = ["b"]\n[roles.db]\nhosts = ["b"]\n' + files
    )
    key = "roles.files.enabled" if files else "roles.files"
    assert "share one host" in assert_names(config_error(text), key)


@pytest.mark.parametrize(
    ("option", "key"),
    [
        ("part_mb = 4", "roles.files.part_mb"),
        ('bucket = "Bad_Bucket"', "roles.files.bucket"),
        ('backup_bucket = "strata-files"', "roles.files.backup_bucket"),
        ("presign_seconds = 5", "roles.files.presign_seconds"),
    ],
)
def test_files_options_are_checked(option, key):
    assert_names(config_error(topology(tail=f'[roles.files]\nhosts = ["a"]\n{option}\n')), key)


def test_files_internal_ports_clash_with_other_roles():
    text = topology(db="port = 18345", tail='[roles.files]\nhosts = ["a"]\n')
    msg = str(config_error(text))
    assert "18345" in msg
    assert "roles.files.internal_port" in msg


def test_same_port_on_two_addresses_is_fine():
    text = TWO_HOSTS + (
        '[roles.web]\nhosts = ["a"]\nhttps_port = 5000\n'
        '[roles.app]\nhosts = ["b"]\nport = 5000\ninstances = 1\n'
        '[roles.db]\nhosts = ["b"]\nport = 18443\n[roles.files]\nhosts = ["b"]\n'
    )
    config = parse(text, PATH)
    assert config.roles["web"]["https_port"] == config.roles["app"]["port"] == 5000


def test_same_port_on_two_host_names_with_one_address_clashes():
    text = (
        '[hosts.a]\naddress = "198.18.0.1"\n[hosts.b]\naddress = "198.18.0.1"\n'
        '[roles.web]\nhosts = ["a"]\n[roles.app]\nhosts = ["a"]\n'
        '[roles.db]\nhosts = ["b"]\nport = 18443\n'
    )
    msg = assert_names(config_error(text), "roles.db.port")
    assert "roles.web.https_port" in msg


def test_web_on_two_hosts_with_same_ports_is_fine():
    text = TWO_HOSTS + (
        '[roles.web]\nhosts = ["a", "b"]\n[roles.app]\nhosts = ["a"]\n'
        '[roles.db]\nhosts = ["a"]\n[roles.files]\nhosts = ["a"]\n'
    )
    assert len(parse(text, PATH).hosts_of("web")) == 2


# --- other options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (topology(app="instances = 0"), "roles.app.instances"),
        (topology(app="instances = 17"), "roles.app.instances"),
        (topology(app="workers = -1"), "roles.app.workers"),
        (topology(web="workers = 65"), "roles.web.workers"),
        (topology(db="pool_size = 0"), "roles.db.pool_size"),
        (topology(db="pool_size = 3"), "roles.db.pool_size"),  # fewer than an app worker's threads
        (topology(db='name = "1db"'), "roles.db.name"),
        (topology(db='user = "strata; drop"'), "roles.db.user"),
        (topology(tail='[site]\ndomain = "a b"'), "site.domain"),
        (topology(tail='[site]\ndomain = ""'), "site.domain"),
        (topology(web='content_host = "a b"'), "roles.web.content_host"),
        (topology(web='content_host = "-bad.example"'), "roles.web.content_host"),
        (topology(web='content_host = "198.18.0.9"'), "roles.web.content_host"),
        (topology(web='content_host = "localhost"'), "roles.web.content_host"),
        (topology(web='content_host = "LocalHost."'), "roles.web.content_host"),
        (
            topology(web='content_host = "team.example"', tail='[site]\ndomain = "team.example"'),
            "roles.web.content_host",
        ),
    ],
)
def test_option_out_of_range_or_malformed(text, key):
    assert_names(config_error(text), key)


def test_content_host_defaults_under_the_site_domain_and_enters_the_ca_scope():
    """content.<site.domain> unless given; the CA's name constraints cover it (a name outside the site's
    domain is added on its own)."""
    from strata.deploy.local import ca_scope
    from strata.deploy.roles.web.spec import content_host

    default = parse(topology(), PATH)
    assert content_host(default) == "content.localhost"
    assert ca_scope(default).dns == ("localhost",)
    given = parse(
        topology(web='content_host = "files.example.net"', tail='[site]\ndomain = "team.example"'), PATH
    )
    assert content_host(given) == "files.example.net"
    assert ca_scope(given).dns == ("files.example.net", "localhost", "team.example")


# --- TOML and files --------------------------------------------------------------------------------


def test_invalid_toml():
    exc = config_error("[site\nname = 1\n")
    msg = str(exc)
    assert "\n" not in msg
    assert msg.startswith(f"{PATH}: not valid TOML")
    assert exc.key == ""


def test_duplicate_table_is_invalid_toml():
    exc = config_error(BASE + '\n[roles.db]\nhosts = ["a"]\n')
    assert "not valid TOML" in str(exc)


def test_load_missing_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(missing)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{missing}: ")
    assert "no such file" in msg
    assert not missing.exists()


def test_load_reads_file_and_resolves_var_dir(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(BASE.replace("[hosts.a]", '[site]\nvar_dir = "state"\n\n[hosts.a]'))
    config = load(path)
    assert config.path == path
    assert config.var_dir == (tmp_path / "state").resolve()


def test_load_error_names_the_file(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(topology(web="bogus = 1"))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: roles.web.bogus: ")


def test_load_uses_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "env.toml"
    path.write_text(BASE)
    monkeypatch.setenv(cfgmod.ENV_CONFIG, str(path))
    assert load().path == path


# --- local hosts -----------------------------------------------------------------------------------


def test_local_hosts(monkeypatch):
    text = (
        '[hosts.a]\naddress = "127.0.0.1"\n[hosts.b]\naddress = "198.18.0.2"\n'
        '[roles.web]\nhosts = ["a"]\n[roles.app]\nhosts = ["b"]\n[roles.db]\nhosts = ["b"]\n'
        '[roles.files]\nhosts = ["b"]\n'
    )
    config = parse(text, PATH)
    monkeypatch.delenv(cfgmod.ENV_HOST, raising=False)
    assert [h.name for h in config.local_hosts()] == ["a"]
    monkeypatch.setenv(cfgmod.ENV_HOST, "b")
    assert [h.name for h in config.local_hosts()] == ["b"]
    monkeypatch.setenv(cfgmod.ENV_HOST, "zz")
    with pytest.raises(ConfigError) as info:
        config.local_hosts()
    assert_names(info.value, cfgmod.ENV_HOST)


# --- secrets ---------------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "strata.toml"
    path.write_text(BASE)
    return load(path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_secrets_creates_private_file(site):
    assert not site.secrets_path.exists()
    data, added = cfgmod.ensure_secrets(site)
    assert sorted(added) == sorted(cfgmod.SECRET_MAKERS)
    assert mode(site.secrets_path) == 0o600
    assert set(data) == {*cfgmod.SECRET_MAKERS, cfgmod.ADMIN_HASH}
    assert all(isinstance(v, str) and len(v) >= 16 for v in data.values())
    assert len(set(data.values())) == len(data)
    assert cfgmod.load_secrets(site) == data
    assert not site.secrets_path.with_name("secrets.toml.new").exists()


def test_ensure_secrets_twice_adds_nothing(site):
    first, _ = cfgmod.ensure_secrets(site)
    before = site.secrets_path.read_bytes()
    second, added = cfgmod.ensure_secrets(site)
    assert added == []
    assert second == first
    assert site.secrets_path.read_bytes() == before


def test_ensure_secrets_adds_only_the_missing_key(site):
    first, _ = cfgmod.ensure_secrets(site)
    kept = {k: v for k, v in first.items() if k != "db_app_password"}
    cfgmod.write_secrets(site.secrets_path, kept)
    data, added = cfgmod.ensure_secrets(site)
    assert added == ["db_app_password"]
    assert {k: data[k] for k in kept} == kept
    assert data["db_app_password"]
    assert data["db_app_password"] != first["db_app_password"]
    assert cfgmod.load_secrets(site) == data
    assert mode(site.secrets_path) == 0o600


def test_ensure_secrets_replaces_an_empty_value(site):
    first, _ = cfgmod.ensure_secrets(site)
    cfgmod.write_secrets(site.secrets_path, {**first, "admin_password": ""})
    data, added = cfgmod.ensure_secrets(site)
    assert added == ["admin_password"]
    assert data["admin_password"]
    # The hash the first app host receives follows the new password.
    assert data[cfgmod.ADMIN_HASH] != first[cfgmod.ADMIN_HASH]
    assert PBKDF2PasswordHasher().verify(data["admin_password"], data[cfgmod.ADMIN_HASH])


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_ensure_secrets_fixes_loose_mode(site, loose):
    first, _ = cfgmod.ensure_secrets(site)
    site.secrets_path.chmod(loose)
    data, added = cfgmod.ensure_secrets(site)
    assert added == []
    assert data == first
    assert mode(site.secrets_path) == 0o600


def test_ensure_secrets_keeps_extra_keys(site):
    first, _ = cfgmod.ensure_secrets(site)
    cfgmod.write_secrets(site.secrets_path, {**first, "custom": "value"})
    data, added = cfgmod.ensure_secrets(site)
    assert added == []
    assert data["custom"] == "value"


def test_write_secrets_round_trips_awkward_values(tmp_path):
    path = tmp_path / "s.toml"
    value = 'quote " backslash \\ newline \n tab \t é ☃'
    cfgmod.write_secrets(path, {"k": value})
    import tomllib

    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"k": value}
    assert mode(path) == 0o600


def test_load_secrets_missing_file(site):
    with pytest.raises(ConfigError) as info:
        cfgmod.load_secrets(site)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{site.secrets_path}: ")
    assert info.value.path == str(site.secrets_path)


def test_load_secrets_missing_key(site):
    first, _ = cfgmod.ensure_secrets(site)
    cfgmod.write_secrets(site.secrets_path, {k: v for k, v in first.items() if k != "django_secret_key"})
    with pytest.raises(ConfigError) as info:
        cfgmod.load_secrets(site)
    assert_names(info.value, "django_secret_key", str(site.secrets_path))


def test_load_secrets_invalid_toml(site):
    site.secrets_path.parent.mkdir(parents=True)
    site.secrets_path.write_text("this is = = not toml\n")
    with pytest.raises(ConfigError) as info:
        cfgmod.load_secrets(site)
    assert str(info.value).startswith(f"{site.secrets_path}: cannot read")


def test_roles_start_after_what_they_depend_on_and_the_matrix_keeps_its_order():
    from strata.deploy.roles.registry import START_ORDER

    assert START_ORDER == ("db", "domain", "files", "comms", "app", "web", "monitor")
    assert [(s, t) for s, t, _ in cfgmod.LINKS] == [
        ("web", "app"),
        ("web", "files"),
        ("app", "db"),
        ("app", "domain"),
        ("app", "comms"),
        ("comms", "app"),
        ("app", "files"),
        ("db", "files"),
        ("monitor", "web"),
        ("monitor", "app"),
        ("monitor", "db"),
        ("monitor", "files"),
        ("monitor", "comms"),
        ("monitor", "domain"),
        ("app", "monitor"),
    ]


def test_the_config_reader_loads_no_deployer_machinery():
    # Django's settings import it: only the roles' specs (standard library) may come along.
    code = "import json, sys, strata.deploy.config; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = [m for m in json.loads(proc.stdout) if m.startswith("strata")]
    light = {"strata", "strata.deploy", "strata.deploy.config", "strata.deploy.roles"}
    light |= {f"strata.deploy.roles.{m}" for m in ("spec", "registry", *cfgmod.ROLE_NAMES)}
    light |= {f"strata.deploy.roles.{r}.spec" for r in cfgmod.ROLE_NAMES}
    assert set(loaded) <= light, set(loaded) - light
    assert not {"jinja2", "psycopg", "ldap", "boto3"} & set(json.loads(proc.stdout))


def test_app_workers_by_cores_share_the_host_cores_among_its_instances():
    from strata.deploy.roles.app.spec import workers

    auto = parse(topology(app="instances = 2"), PATH)
    assert auto.roles["app"]["workers"] == 0  # the default
    assert [workers(auto, "a", cores) for cores in (1, 2, 3, 8)] == [1, 1, 1, 4]
    fixed = parse(topology(app="instances = 2\nworkers = 3"), PATH)
    assert workers(fixed, "a", 8) == 3


def test_code_dir_pins_every_python_program_to_the_release_the_link_names_now(tmp_path):
    from strata.deploy.roles.base import HostContext, all_roles

    release = tmp_path / "releases" / "r1"
    (release / "strata").mkdir(parents=True)
    (release / "strata" / "__init__.py").write_text("")
    (tmp_path / "current").symlink_to(release)
    path = tmp_path / "strata.toml"
    path.write_text(BASE.replace("[hosts.a]", '[site]\ncode_dir = "current"\n\n[hosts.a]'))
    config = load(path)
    assert config.code_dir == release.resolve()  # the link resolved: a later switch moves nothing running
    ctx = HostContext(config, {}, config.hosts["a"])
    programs = all_roles()["app"].programs(ctx)
    assert {p.name for p in programs} >= {"app-1", "events", "worker"}
    for p in programs:
        assert p.environment["PYTHONPATH"] == str(release.resolve()), p.name
        assert p.directory == str(release.resolve()), p.name
    assert ctx.django_env()["PYTHONPATH"] == str(release.resolve())


def test_without_code_dir_the_programs_run_the_installed_code(tmp_path):
    from strata.deploy.roles.base import HostContext, all_roles

    path = tmp_path / "strata.toml"
    path.write_text(BASE)
    config = load(path)
    assert config.code_dir is None
    ctx = HostContext(config, {}, config.hosts["a"])
    assert "PYTHONPATH" not in ctx.django_env()
    for p in all_roles()["app"].programs(ctx):
        assert p.directory == str(ctx.project), p.name
