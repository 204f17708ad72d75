"""The domain role: a private OpenLDAP slapd (mdb backend, memberof overlay) for people, groups and
service accounts. Its config, data and socket live under var/; it listens on its host's address only
and refuses simple binds without TLS (StartTLS with the site's local CA) or the local socket.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import re
import urllib.parse
from pathlib import Path

import ldap
import ldap.modlist

from strata.deploy import pki
from strata.deploy.config import Config, Host
from strata.deploy.render import render, write
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.domain.client import connect_admin, tree
from strata.deploy.roles.domain.metrics import peer_dn
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.roles.monitor.role import exporter_user
from strata.deploy.roles.probe import Health, timed
from strata.deploy.system import chown, require_reachable, run, service_user

SLAPD = "/usr/sbin/slapd"
SLAPTEST = "/usr/sbin/slaptest"
LDAP_USER = "openldap"


def ssha(password: str, salt: bytes | None = None) -> str:
    """Return the {SSHA} hash slapd.conf's rootpw holds (the Password Modify operation does the rest)."""
    salt = salt if salt is not None else os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - slapd's {SSHA} scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def ssha_matches(hashed: str, password: str) -> bool:
    if not hashed.startswith("{SSHA}"):
        return False
    try:
        raw = base64.b64decode(hashed[6:], validate=True)
    except ValueError:
        return False
    return len(raw) > 20 and ssha(password, raw[20:]) == hashed


def _current_rootpw(conf: Path) -> str:
    try:
        match = re.search(r"^rootpw (\S+)$", conf.read_text(), re.M)
    except FileNotFoundError:
        return ""
    return match.group(1) if match else ""


BASE_ENTRIES = (
    ("{base}", {"objectClass": ["dcObject", "organization"], "dc": ["{dc}"], "o": ["{o}"]}),
    ("{people}", {"objectClass": ["organizationalUnit"], "ou": ["people"]}),
    ("{groups}", {"objectClass": ["organizationalUnit"], "ou": ["groups"]}),
    (
        "{services}",
        {
            "objectClass": ["organizationalUnit"],
            "ou": ["services"],
            "description": ["service accounts (computers) that use the JSON API"],
        },
    ),
    (
        "{system}",
        {"objectClass": ["organizationalUnit"], "ou": ["system"], "description": ["Strata's own accounts"]},
    ),
    (
        "{app}",
        {
            "objectClass": ["applicationProcess", "simpleSecurityObject"],
            "cn": ["strata-app"],
            "userPassword": ["!"],
            "description": ["the app servers: read-only"],
        },
    ),
    (
        "{writer}",
        {
            "objectClass": ["applicationProcess", "simpleSecurityObject"],
            "cn": ["strata-writer"],
            "userPassword": ["!"],
            "description": ["the web admin: writes people and groups"],
        },
    ),
)


# glibc's allocator for slapd (P6): one arena, and blocks of 128 KiB and more always mapped on their own
# (a fixed threshold; by default it grows to the largest block freed). Each worker thread otherwise gets an
# arena of its own, which keeps the pages of every Argon2 hash (several MiB each) after the bind:
# measured with bench.memory, slapd 25-29 -> 17 MiB PSS idle.
SLAPD_MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": "131072"}


class DomainRole(Role):
    name = "domain"
    ready_timeout = 30

    def user(self) -> str | None:
        return service_user(LDAP_USER)

    def _conf(self, ctx: HostContext) -> Path:
        return ctx.etc("domain") / "slapd.conf"

    def _ldapi(self, ctx: HostContext) -> str:
        return "ldapi://" + urllib.parse.quote(str(ctx.run_dir("domain") / "ldapi"), safe="")

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        names = tuple(dict.fromkeys([config.site["domain"], "localhost"]))
        return [pki.CertRequest("domain", names, tuple(sorted({"127.0.0.1", host.address})))]

    def prepare(self, ctx: HostContext) -> None:
        self.require_binary(SLAPD, "OpenLDAP")
        user = self.user()
        require_reachable(ctx.var, user, "site.var_dir")
        self.make_dirs(ctx, user, "data", "run", "etc", "log")
        self.ensure_certificates(ctx)
        # slapd reads its key after dropping root: only its own user may read it.
        chown(ctx.pki / "domain.key", user)
        require_reachable(ctx.pki, user, "the PKI directory")

    def render(self, ctx: HostContext) -> None:
        t = tree(ctx.config)
        conf = self._conf(ctx)
        password = ctx.secrets["ldap_admin_password"]
        # Keep the salted hash while the password is unchanged, so `up` does not rewrite the file.
        current = _current_rootpw(conf)
        admin_hash = current if ssha_matches(current, password) else ssha(password)
        write(
            conf,
            render(
                "domain/templates/slapd.conf.j2",
                run=ctx.run_dir("domain"),
                data=ctx.data("domain"),
                ca=ctx.pki / "ca.crt",
                cert=ctx.pki / "domain.crt",
                key=ctx.pki / "domain.key",
                base=t.base,
                admin_dn=t.admin,
                admin_hash=admin_hash,
                app_dn=t.app,
                writer_dn=t.writer,
                people=t.people,
                groups=t.groups,
                services=t.services,
                system=t.system,
                monitor_peer=self._monitor_peer(ctx),
            ),
            0o600,
        )
        chown(conf, self.user())

    def _monitor_peer(self, ctx: HostContext) -> str:
        """Return the ldapi identity of the metrics probe (its user's), or "" without the monitor role."""
        if not monitor.enabled(ctx.config):
            return ""
        user = exporter_user()
        if user is None:
            return peer_dn(os.getuid(), os.getgid())
        pw = pwd.getpwnam(user)
        return peer_dn(pw.pw_uid, pw.pw_gid)

    def validate(self, ctx: HostContext) -> None:
        run(
            [SLAPTEST, "-u", "-Q", "-f", str(self._conf(ctx))],
            user=self.user(),
            what="slapd config check (slaptest -u)",
        )

    def programs(self, ctx: HostContext) -> list[Program]:
        host, port = ctx.host, ctx.config.roles["domain"]["port"]
        address = f"[{host.address}]" if ":" in host.address else host.address
        cmd = [SLAPD, "-f", str(self._conf(ctx)), "-h", f"ldap://{address}:{port}/ {self._ldapi(ctx)}"]
        user = self.user()
        if user:
            cmd += ["-u", user, "-g", user]
        # -d keeps slapd in the foreground for the supervisor; level 0 logs nothing (there is no syslog).
        cmd += ["-d", "0"]
        return [
            Program(
                "domain",
                "domain",
                cmd,
                environment=SLAPD_MALLOC,
                stopsignal="TERM",
                stopwaitsecs=30,
                ports=[port],
            ),
            *self._exporter_programs(ctx),
        ]

    def _exporter_programs(self, ctx: HostContext) -> list[Program]:
        """The cn=Monitor probe (domain/metrics.py) while the monitor role is on."""
        if not monitor.enabled(ctx.config):
            return []
        port = ctx.config.roles["domain"]["metrics_port"]
        return [
            Program(
                "domain-exporter",
                "domain",
                [
                    str(ctx.venv_bin / "python"),
                    "-m",
                    "strata.deploy.roles.domain.metrics",
                    f"--address={ctx.host.address}",
                    f"--port={port}",
                    f"--ldapi={self._ldapi(ctx)}",
                ],
                user=exporter_user(),
                environment=ctx.code_env(),
                directory=str(ctx.code),
                stopwaitsecs=5,
                ports=[port],
            )
        ]

    def ready_probe(self, ctx: HostContext) -> Health:
        def check():
            connect_admin(ctx.config, ctx.secrets).unbind_s()

        return timed(check)

    def after_start(self, ctx: HostContext) -> None:
        """Create the base tree and the site's accounts if missing; set their passwords from the secrets."""
        t = tree(ctx.config)
        values = {
            "base": t.base,
            "dc": t.base.split(",")[0][3:],
            "o": ctx.config.site["name"],
            "people": t.people,
            "groups": t.groups,
            "services": t.services,
            "system": t.system,
            "app": t.app,
            "writer": t.writer,
        }
        conn = connect_admin(ctx.config, ctx.secrets)
        try:
            for dn_tpl, attrs in BASE_ENTRIES:
                dn = dn_tpl.format(**values)
                entry = {k: [v.format(**values).encode() for v in vs] for k, vs in attrs.items()}
                with contextlib.suppress(ldap.ALREADY_EXISTS):
                    conn.add_s(dn, ldap.modlist.addModlist(entry))
            # The server hashes these (password-hash {ARGON2}); re-set on every `up` so they follow
            # the secrets file.
            conn.passwd_s(t.app, None, ctx.secrets["ldap_app_password"])
            conn.passwd_s(t.writer, None, ctx.secrets["ldap_writer_password"])
        finally:
            conn.unbind_s()


ROLE = DomainRole()
