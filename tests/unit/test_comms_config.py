"""The comms role's options and the Postfix config rendered from a multi-host topology (no servers)."""

from __future__ import annotations

import json
import re

import pytest

from strata.deploy.config import ConfigError, parse
from strata.deploy.roles.comms.client import from_address, reply_domain
from strata.deploy.roles.comms.role import render_files
from tests.support.topology import topology

BASE = topology(
    site={"domain": "team.example"},
    hosts={"front": "198.18.0.1", "app1": "198.18.0.2", "app2": "198.18.0.3", "mail": "198.18.0.4"},
    roles={
        "web": ["front"],
        "app": {"hosts": ["app1", "app2"], "instances": 2, "port": 18101},
        "db": ["app1"],
        "files": ["front"],
        "comms": {"hosts": ["mail"], "port": 2525},
    },
)
SECRETS = {"comms_inbound_secret": "s3cret-inbound", "comms_relay_password": "relay pass"}


def files_for(extra: str = "", relay=None) -> dict[str, str]:
    config = parse(BASE + extra, "/srv/strata/strata.toml")
    out = render_files(
        config, SECRETS, config.hosts["mail"], config.var_dir, "/venv/bin/python", relay, 1500, 1500
    )
    return {name: text for name, (text, _mode) in out.items()}


def test_defaults_and_derived_names():
    config = parse(BASE, "x.toml")
    comms = config.roles["comms"]
    assert (comms["port"], comms["max_message_kb"], comms["relay_host"], comms["relay_starttls"]) == (
        2525,
        1024,
        "",
        True,
    )
    assert reply_domain(config) == "team.example"
    assert from_address(config) == "noreply@team.example"
    config = parse(BASE + 'reply_domain = "reply.team.example"\nfrom_address = "bot@team.example"\n', "x")
    assert reply_domain(config) == "reply.team.example"
    assert from_address(config) == "bot@team.example"


def test_local_outbox_without_relay_and_no_dns():
    main = files_for()["main.cf"]
    assert "inet_interfaces = 198.18.0.4\n" in main
    assert "inet_protocols = ipv4\n" in main
    # mynetworks: exactly the app hosts.
    assert "mynetworks = 198.18.0.2/32 198.18.0.3/32\n" in main
    assert "default_transport = virtual\n" in main
    assert "relay_transport = virtual\n" in main
    assert "relayhost =\n" in main
    assert "smtp_dns_support_level = disabled\n" in main
    assert "smtpd_peername_lookup = no\n" in main
    assert "myhostname = comms.team.example\n" in main
    assert "mydestination =\n" in main
    assert "message_size_limit = 1048576\n" in main
    assert "/srv/strata/var/data/comms/queue" in main
    assert "maillog_file = /srv/strata/var/log/comms/" in main
    assert not re.search(r"\b(10|192\.168|172\.(1[6-9]|2\d|3[01]))\.\d+\.\d+", main)


def test_master_listens_on_the_host_address_and_never_chroots():
    master = files_for()["master.cf"]
    assert master.splitlines()[3].split()[:2] == ["198.18.0.4:2525", "inet"]
    for line in master.splitlines():
        fields = line.split()
        if len(fields) >= 8 and not line.startswith(("#", " ")):
            assert fields[4] == "n", f"chroot on: {line}"
    assert "user=strata-mail" in master
    assert "${sender} ${recipient}" in master


def test_reply_addresses_go_to_the_app_and_only_well_formed_tokens_are_accepted():
    files = files_for()
    assert "team.example strata-inbound:" in files["transport"]
    assert "noreply@team.example discard:" in files["transport"]
    lines = files["reply_recipients.regexp"].splitlines()
    patterns = [re.compile(line.split()[0].strip("/")) for line in lines if line.startswith("/")]

    def accepted(addr):
        return any(p.search(addr) for p in patterns)

    assert accepted("reply+" + "a2" * 13 + "@team.example")
    assert not accepted("reply+short@team.example")
    assert not accepted("reply+" + "a" * 26 + "@team.example.evil.org")
    assert not accepted("postmaster@team.example")
    inbound = json.loads(files["inbound.json"])
    assert inbound["apps"] == [
        ["198.18.0.2", 18101],
        ["198.18.0.2", 18102],
        ["198.18.0.3", 18101],
        ["198.18.0.3", 18102],
    ]
    assert inbound["source"] == "198.18.0.4"
    assert "s3cret-inbound" not in "".join(files.values())


def test_relay_with_starttls_and_credentials():
    relay = {"host": "smtp.team.example", "port": 587, "starttls": True, "auth": True}
    files = files_for('relay_host = "smtp.team.example"\nrelay_username = "strata"\n', relay)
    main = files["main.cf"]
    assert "relayhost = [smtp.team.example]:587\n" in main
    assert "default_transport = smtp\n" in main
    assert "smtp_tls_security_level = secure\n" in main
    assert "smtp_sasl_auth_enable = yes\n" in main
    assert files["relay_password"] == "[smtp.team.example]:587 strata:relay pass\n"


def test_ipv6_host():
    text = BASE.replace('address = "198.18.0.4"', 'address = "::1"')
    config = parse(text, "/srv/x.toml")
    files = render_files(config, SECRETS, config.hosts["mail"], config.var_dir, "py", None, 1, 1)
    assert "inet_protocols = ipv6\n" in files["main.cf"][0]
    assert files["master.cf"][0].splitlines()[3].startswith("[::1]:2525 ")


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("max_message_kb = 0\n", "roles.comms.max_message_kb"),
        ('reply_domain = "bad domain"\n', "roles.comms.reply_domain"),
        ('reply_domain = "198.18.0.9"\n', "roles.comms.reply_domain"),
        ('from_address = "a@b.example\\nBcc: x@y.example"\n', "roles.comms.from_address"),
        ('from_address = "Robot <bot@team.example>"\n', "roles.comms.from_address"),
        ('relay_host = "smtp.example; rm"\n', "roles.comms.relay_host"),
        ("relay_port = 70000\n", "roles.comms.relay_port"),
        ('relay_username = "user"\n', "roles.comms.relay_username"),
        ('relay_host = "smtp.example.org"\nrelay_username = "a b"\n', "roles.comms.relay_username"),
        ("port = 18101\n", "roles.comms.port"),
        ("surprise = 1\n", "roles.comms.surprise"),
    ],
)
def test_bad_comms_options_name_the_key(extra, key):
    text = BASE + extra
    if key == "roles.comms.port":
        text = text.replace('hosts = ["mail"]', 'hosts = ["app1"]').replace("port = 2525\n", "")
    with pytest.raises(ConfigError) as err:
        parse(text, "strata.toml")
    assert err.value.key == key
    assert str(err.value).startswith("strata.toml: " + key)
