"""Each rendered config goes through its own server's syntax check before anything starts: the real
nginx -t, postconf + postfix check, and slaptest, on the files `make up` renders (prepare, render,
validate), and each refuses the config once a line it does not know is added. No server is started."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import local as deploy
from strata.deploy.roles.base import HostContext, all_roles
from strata.deploy.system import DeployError
from tests.support.stack import IN_CI, free_ports, make_root, require_servers
from tests.support.topology import topology

pytestmark = pytest.mark.integration

NEEDED = {"comms": "/usr/sbin/postfix", "domain": "/usr/sbin/slaptest", "web": "/usr/sbin/nginx"}


@pytest.fixture(scope="module")
def ctx(monkeypatch_module):
    require_servers()
    missing = [p for p in NEEDED.values() if not Path(p).exists()]
    if missing:
        (pytest.fail if IN_CI else pytest.skip)(
            f"{', '.join(missing)} not installed (make test installs them)"
        )
    base = make_root("strata-checks-")
    http, app, db, comms, domain = free_ports(2, 2, 1, 1, 1)
    path = base / "strata.toml"
    path.write_text(
        topology(
            site={"domain": "team.example", "name": "Checks"},
            hosts={"local": "127.0.0.1"},
            roles={
                "web": {"hosts": ["local"], "http_port": http, "https_port": http + 1},
                "app": {"hosts": ["local"], "port": app, "instances": 1},
                "db": {"hosts": ["local"], "port": db},
                "comms": {"hosts": ["local"], "port": comms},
                "domain": {"hosts": ["local"], "port": domain},
                "files": {"hosts": ["local"], "enabled": False},
            },
        )
    )
    monkeypatch_module.delenv(cfgmod.ENV_HOST, raising=False)
    monkeypatch_module.delenv(cfgmod.ENV_VAR_DIR, raising=False)
    try:
        config, _ = deploy.init(path)
        yield HostContext(config, cfgmod.load_secrets(config), config.hosts["local"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.parametrize(
    ("role", "file", "line", "words"),
    [
        # What a newline in a value would have added: a parameter Postfix does not know...
        (
            "comms",
            "main.cf",
            "smtpd_relay_restriction = permit",
            r"postconf -n.*unused parameter: smtpd_relay_restriction",
        ),
        # ... a line that is not `name = value` ...
        ("comms", "main.cf", "permit_everything", "missing '='"),
        # ... or a service line with too few fields.
        ("comms", "master.cf", "relay unix - - n", r"postconf.*master.cf: line \d+: bad field count"),
        ("domain", "slapd.conf", "injected directive", "slapd config check"),
        ("web", "nginx.conf", "injected;", "nginx config check"),
    ],
)
def test_the_rendered_config_passes_its_check_and_a_smuggled_line_fails_it(ctx, role, file, line, words):
    r = all_roles()[role]
    r.prepare(ctx)
    r.render(ctx)
    r.validate(ctx)  # what `make up` renders passes
    conf = ctx.etc(role) / file
    good = conf.read_text()
    try:
        conf.write_text(good + line + "\n")
        with pytest.raises(DeployError, match=words):
            r.validate(ctx)
    finally:
        conf.write_text(good)
    r.validate(ctx)
