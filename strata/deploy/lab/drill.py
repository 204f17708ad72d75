"""`strata lab drill`: the fault drills run from the lab's control (the root namespace) against its hosts.

The load goes through the web host's address, as people's would; each drill breaks its role on the host
that runs it through that host's supervisor (a unix socket in the host's var/ tree, reachable from the
control as on a machine of its own); what only the site can do (the drill's accounts, `strata backup`,
`restore`, the file server's objects) runs inside the first app host's namespace, whose firewall lets it
reach the db and file hosts. Nothing opens another flow through the lab's firewalls.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import drill
from strata.deploy.drill_objects import SECRET_KEYS
from strata.deploy.lab.run import Lab
from strata.deploy.system import DeployError

ADMIN_KEY_ENV = {
    "STRATA_S3_ADMIN_ACCESS_KEY": "s3_admin_access_key",
    "STRATA_S3_ADMIN_SECRET_KEY": "s3_admin_secret_key",
}


@dataclass(frozen=True)
class HostView(cfgmod.Config):
    """The lab's topology as a drill sees one host: that host's var/ tree (its supervisor's socket, the
    outbox), the site at the web host's address, and the lab's CA."""

    host_var: Path = field(default_factory=Path)
    web_url: str = ""
    ca: Path = field(default_factory=Path)

    @property
    def var_dir(self) -> Path:
        return self.host_var

    @property
    def ca_cert(self) -> Path:
        return self.ca

    def url(self) -> str:
        return self.web_url


def web_url(config: cfgmod.Config) -> str:
    """Return the site's address as the lab's control reaches it: the web host's address."""
    return f"https://{config.host_of('web').address}:{config.roles['web']['https_port']}/"


def views(lab: Lab):
    """Return view(role): the lab's topology as seen from the (first) host that runs ROLE."""
    config = lab.config()

    def view(role: str) -> cfgmod.Config:
        hosts = config.hosts_of(role)
        if not hosts:
            raise DeployError(f"lab drill: the {role} role is not placed in this lab")
        return HostView(
            config.path,
            config.site,
            config.hosts,
            config.roles,
            host_var=Path(lab.hosts[hosts[0].name].var),
            web_url=web_url(config),
            ca=lab.ca(),
        )

    return view


def _in_app_host(lab: Lab, argv: list[str], env: dict[str, str], stdin: str | None = None):
    host = lab.config().hosts_of("app")[0].name
    return subprocess.run(
        ["ip", "netns", "exec", lab.hosts[host].netns, *argv],
        input=stdin,
        env={**lab.host_env(host), **env},
        capture_output=True,
        text=True,
        timeout=3600,
    )


def backups(lab: Lab) -> drill.Backups:
    """Return the backup-restore drill's reach in LAB: the CLI and S3 from the first app host, with the
    control's S3 keys handed over for the run (an app host holds neither the admin nor the backup key)."""
    shared = cfgmod.load_secrets(lab.config())
    admin_env = {env: shared[key] for env, key in ADMIN_KEY_ENV.items()}
    keys = {k: shared[k] for k in SECRET_KEYS}

    def strata(*args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(lab.config_path), *args]
        return _in_app_host(lab, argv, admin_env)

    def objects(op: str, args: list[str]) -> dict:
        request = json.dumps({"op": op, "args": args, "secrets": keys})
        proc = _in_app_host(lab, [sys.executable, "-m", "strata.deploy.drill_objects"], {}, request)
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or f"exit code {proc.returncode}").splitlines()
            raise DeployError(f"lab drill: {op} on the file server failed: {lines[-1]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return drill.Backups(strata, objects)


class Accounts:
    """The drill's two throwaway people, added (and disabled at the end) by the CLI on the first app host."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.host = lab.config().hosts_of("app")[0].name
        tag = secrets.token_hex(3)
        self.people = {who: (f"drill-{tag}-{who}", secrets.token_urlsafe(18)) for who in ("a", "b")}
        self.added: list[str] = []
        try:
            for name, password in self.people.values():
                # A reserved domain: the comms host's local outbox keeps the mail.
                args = ["--first-name", "Drill", "--last-name", name, "--email", f"{name}@example.org"]
                lab.strata(self.host, "users", "add", name, "--password-stdin", *args, input=password + "\n")
                self.added.append(name)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for name in self.added:
            self.lab.strata(self.host, "users", "disable", name)
