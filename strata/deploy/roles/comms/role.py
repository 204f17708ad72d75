"""The comms role: a private Postfix instance. Notifications out, replies to them back into the app.

Config under var/etc/comms/, queue and outbox under var/data/comms/, log under var/log/comms/. With no
relay configured every outgoing message lands in a local Maildir (the outbox): Postfix never looks up or
contacts an outside domain. Mail to the reply addresses is piped (deliver.py) to an app server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from strata.deploy import pki
from strata.deploy.config import Config, ConfigError, Host
from strata.deploy.render import render, write
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.comms.client import (
    INBOUND_PATH,
    REPLY_PREFIX,
    TOKEN_PATTERN,
    from_address,
    reply_domain,
)
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.system import (
    DeployError,
    chown,
    ensure_system_user,
    is_root,
    make_dir,
    require_reachable,
    run,
    service_user,
)

POSTFIX = "/usr/sbin/postfix"
# Owns the outbox and runs the pipe that hands replies to the app: neither root nor postfix.
MAIL_USER = "strata-mail"


class CommsRole(Role):
    name = "comms"
    ready_timeout = 30

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        # STARTTLS for the app's submissions when an app host is another machine (Config.tls_into). The
        # key stays root's: Postfix's smtpd reads it before it drops its privileges.
        if not config.tls_into("comms"):
            return []
        # Verified by address; the name is under site.domain, within the site CA's name constraints.
        return [pki.CertRequest("comms", (f"comms.{config.site['domain']}",), (host.address,))]

    def prepare(self, ctx: HostContext) -> None:
        self.require_binary(POSTFIX, "Postfix")
        if not is_root():
            raise DeployError("the comms role runs Postfix, which must be started as root")
        ensure_system_user(MAIL_USER)
        require_reachable(ctx.var, "postfix", "site.var_dir")
        require_reachable(ctx.var, MAIL_USER, "site.var_dir")
        require_reachable(ctx.venv_bin, MAIL_USER, "the virtualenv")
        self.ensure_certificates(ctx)
        if ctx.config.tls_into("app"):
            # The pipe to the app verifies the app servers' certificates with the site CA.
            require_reachable(ctx.config.ca_cert, MAIL_USER, "the site CA's certificate")
        self.make_dirs(ctx, None, "etc", "log")
        make_dir(ctx.data("comms"), None, 0o755)
        # `postfix check` creates the queue's subdirectories with their owners and modes.
        make_dir(ctx.data("comms") / "queue", None, 0o755)
        make_dir(ctx.data("comms") / "data", "postfix", 0o700)
        make_dir(ctx.data("comms") / "outbox", MAIL_USER, 0o700)

    def _relay(self, ctx: HostContext) -> dict | None:
        comms = ctx.config.roles["comms"]
        if not comms["relay_host"]:
            return None
        auth = bool(comms["relay_username"])
        if auth and not ctx.secrets.get("comms_relay_password"):
            raise ConfigError(
                ctx.config.secrets_path,
                "comms_relay_password",
                "required when roles.comms.relay_username is set (add it to the secrets file)",
            )
        if auth and any(c in ctx.secrets["comms_relay_password"] for c in "\r\n"):
            raise ConfigError(ctx.config.secrets_path, "comms_relay_password", "must be one line")
        return {
            "host": comms["relay_host"],
            "port": comms["relay_port"],
            "starttls": comms["relay_starttls"],
            "auth": auth,
        }

    def render(self, ctx: HostContext) -> None:
        write_config(ctx, self._relay(ctx))

    def validate(self, ctx: HostContext) -> None:
        etc = str(ctx.etc("comms"))
        # postconf reads main.cf (-n) and master.cf (-M) as Postfix does. It stops on a malformed line but
        # only warns about a parameter no Postfix program knows (a typo, or a line a value smuggled in)
        # or a bad service entry: a warning fails the check too.
        for flag in ("-n", "-M"):
            proc = subprocess.run(
                ["/usr/sbin/postconf", "-c", etc, flag], capture_output=True, text=True, timeout=60
            )
            problems = proc.stderr.strip().splitlines()
            if proc.returncode or problems:
                first = problems[0] if problems else f"exit code {proc.returncode}"
                raise DeployError(f"Postfix config check (postconf {flag}) failed: {first}")
        run([POSTFIX, "-c", etc, "check"], what="Postfix config check (postfix check)")

    def programs(self, ctx: HostContext) -> list[Program]:
        # run.sh: `postfix start-fg`, and `postfix stop` when it ends. Postfix starts as root and runs
        # its daemons as `postfix` (the pipe to the app as strata-mail).
        return [
            Program(
                "comms",
                "comms",
                ["/bin/sh", str(ctx.etc("comms") / "run.sh")],
                stopsignal="TERM",
                stopwaitsecs=30,
                startsecs=1,
                ports=[ctx.config.roles["comms"]["port"]],
            ),
            *self._exporter_programs(ctx),
        ]

    def _exporter_programs(self, ctx: HostContext) -> list[Program]:
        """The queue probe (comms/metrics.py) while the monitor role is on, as Postfix's own user."""
        if not monitor.enabled(ctx.config):
            return []
        port = ctx.config.roles["comms"]["metrics_port"]
        return [
            Program(
                "comms-exporter",
                "comms",
                [
                    str(ctx.venv_bin / "python"),
                    "-m",
                    "strata.deploy.roles.comms.metrics",
                    f"--address={ctx.host.address}",
                    f"--port={port}",
                    f"--queue-directory={ctx.data('comms') / 'queue'}",
                ],
                user=service_user("postfix"),
                environment=ctx.code_env(),
                directory=str(ctx.code),
                stopwaitsecs=5,
                ports=[port],
            )
        ]


def render_files(
    config: Config, secrets: dict, host, var: Path, python: str, relay: dict | None, uid: int, gid: int
) -> dict[str, tuple[str, int]]:
    """Return every file of the instance's config directory: name -> (text, mode)."""
    etc = var / "etc" / "comms"
    comms = config.roles["comms"]
    domain = reply_domain(config)
    sender = from_address(config)
    address = host.address
    common = dict(
        etc=etc,
        queue=var / "data" / "comms" / "queue",
        data=var / "data" / "comms" / "data",
        log=config.log_dir / "comms",
        myhostname=f"comms.{domain}",
        domain=domain,
        reply_domain=domain,
        address=address,
        protocols="ipv6" if ":" in address else "ipv4",
        mynetworks=" ".join(
            sorted(
                {h.cidr() if ":" not in h.address else f"[{h.address}]/128" for h in config.hosts_of("app")}
            )
        ),
        message_size_limit=comms["max_message_kb"] * 1024,
        relay=relay,
        outbox_base=var / "data" / "comms" / "outbox",
        outbox_uid=uid,
        outbox_gid=gid,
        listen=f"[{address}]:{comms['port']}" if ":" in address else f"{address}:{comms['port']}",
        inbound_processes=4,
        pipe_user=MAIL_USER,
        python=python,
        deliver_script=etc / "deliver.py",
        deliver_config=etc / "inbound.json",
        # STARTTLS offered to everyone; required of the app hosts when one is another machine.
        smtpd_tls=config.tls_into("comms"),
        cert=var / "pki" / "comms.crt",
        key=var / "pki" / "comms.key",
    )
    esc = domain.replace(".", r"\.")
    files = {
        "main.cf": (render("comms/templates/main.cf.j2", **common), 0o644),
        "master.cf": (render("comms/templates/master.cf.j2", **common), 0o644),
        # Replies go to the app; bounces of notifications (sent from the no-reply address) are dropped.
        "transport": (f"{sender.lower()} discard:\n{domain} strata-inbound:\n", 0o644),
        "reply_recipients.regexp": (
            f"# Only reply addresses with a well-formed token (and the no-reply sender) are accepted.\n"
            f"/^{REPLY_PREFIX.replace('+', chr(92) + '+')}{TOKEN_PATTERN}@{esc}$/ OK\n"
            f"/^{_regexp_escape(sender.lower())}$/ OK\n",
            0o644,
        ),
        # Every recipient of the outbox shares one Maildir.
        "outbox.regexp": ("/./ Maildir/\n", 0o644),
        # The app hosts must use STARTTLS before they submit (Postfix answers 4xx to a plain session).
        "submission_clients.cidr": (
            "".join(
                f"{c} reject_plaintext_session\n" for c in sorted({h.cidr() for h in config.hosts_of("app")})
            ),
            0o644,
        ),
        "inbound.json": (
            json.dumps(
                {
                    "apps": [[i.host.address, i.port] for i in config.app_instances()],
                    # HTTPS verified with the site CA when the app servers speak TLS; null: plain HTTP
                    # (every end on this one machine).
                    "cafile": str(config.ca_cert) if config.tls_into("app") else None,
                    "path": INBOUND_PATH,
                    "source": address,
                    "secret_file": str(etc / "inbound.secret"),
                    "max_bytes": comms["max_message_kb"] * 1024 + 65536,
                },
                indent=2,
            )
            + "\n",
            0o644,
        ),
        "deliver.py": ((Path(__file__).parent / "deliver.py").read_text(), 0o644),
        "run.sh": (render("comms/templates/run.sh.j2", etc=etc, postfix=POSTFIX), 0o755),
    }
    if relay and relay["auth"]:
        login = f"{comms['relay_username']}:{secrets['comms_relay_password']}"
        files["relay_password"] = (f"[{relay['host']}]:{relay['port']} {login}\n", 0o600)
    return files


def _regexp_escape(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() else c for c in text)


def write_config(ctx: HostContext, relay: dict | None) -> None:
    import pwd

    pw = pwd.getpwnam(MAIL_USER)
    etc = ctx.etc("comms")
    files = render_files(
        ctx.config, ctx.secrets, ctx.host, ctx.var, str(ctx.venv_bin / "python"), relay, pw.pw_uid, pw.pw_gid
    )
    for name, (text, mode) in files.items():
        write(etc / name, text, mode)
    if "relay_password" in files:
        # Read by the smtp client, which runs as postfix.
        chown(etc / "relay_password", "postfix")
    else:
        (etc / "relay_password").unlink(missing_ok=True)
    secret = etc / "inbound.secret"
    write(secret, ctx.secrets["comms_inbound_secret"] + "\n", 0o600)
    chown(secret, MAIL_USER)


def postqueue(var: Path, *args: str) -> str:
    """Run postqueue for this site's instance (e.g. -p to list the queue, -f to flush it)."""
    exe = shutil.which("postqueue") or "/usr/sbin/postqueue"
    return run([exe, "-c", str(var / "etc" / "comms"), *args], what="postqueue")


ROLE = CommsRole()
