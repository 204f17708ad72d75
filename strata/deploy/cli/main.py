"""The `strata` command line: argument parsing and output only; the work is in strata.deploy."""

from __future__ import annotations

import argparse
import os
import sys

from rich.table import Table

from strata import __version__
from strata.deploy import config as cfgmod
from strata.deploy import health
from strata.deploy import local as deploy
from strata.deploy.cli import accounts as accounts_cli
from strata.deploy.cli import drill as drill_cli
from strata.deploy.cli import files as files_cli
from strata.deploy.cli import firewall as firewall_cli
from strata.deploy.cli import lab as lab_cli
from strata.deploy.cli import remote as deploy_cli
from strata.deploy.cli import rotate as rotate_cli
from strata.deploy.cli import upgrade as upgrade_cli
from strata.deploy.cli.output import err, out, print_status
from strata.deploy.config import ConfigError
from strata.deploy.system import DeployError


def _fail(exc: Exception, code: int) -> int:
    err.print(f"strata: {exc}", markup=False)
    return code


def cmd_init(args) -> int:
    site = {k: v for k, v in (("var_dir", args.var_dir), ("log_dir", args.log_dir)) if v is not None}
    _config, changes = deploy.init(args.config, site)
    for line in changes or ["nothing to do: config, secrets and CA already exist"]:
        out.print(line, markup=False)
    return 0


def cmd_check(args) -> int:
    config = cfgmod.load(args.config)
    out.print(
        f"{config.path}: ok ({len(config.hosts)} host(s), roles: "
        f"{', '.join(r for r in cfgmod.ROLE_NAMES if config.enabled(r))})",
        markup=False,
    )
    return 0


def cmd_up(args) -> int:
    with out.status("starting…") as status:

        def step(msg):
            status.update(msg)
            out.print(f"[dim]•[/dim] {msg}", markup=True, highlight=False)

        result = deploy.up(args.config, step=step)
    for role, fallback in result.fallbacks.items():
        out.print(f"[yellow]{role}[/yellow]: fallback in use — {fallback}")
    out.print(f"\n[bold green]Strata is up:[/bold green] {result.url}")
    out.print(
        f"TLS: the site's local CA is {result.ca_cert} (import it into your browser to trust the site)",
        markup=False,
        highlight=False,
    )
    if result.admin_password:
        out.print(
            f"Admin account created — username: [bold]{result.admin_username}[/bold]  password: "
            f"[bold]{result.admin_password}[/bold]  (shown once; also in the secrets file)"
        )
    # One stable last line for scripts (Ansible's changed_when).
    out.print(
        f"changed: {', '.join(result.changed)}" if result.changed else "unchanged",
        markup=False,
        highlight=False,
    )
    return 0


def cmd_down(args) -> int:
    stopped = deploy.down(args.config)
    out.print("stopped" if stopped else "nothing was running")
    return 0


def cmd_status(args) -> int:
    config = cfgmod.load(args.config)
    from strata.deploy import firewall
    from strata.deploy.lab import run as lab_run

    lab = lab_run.for_config(config)
    if lab is not None:
        # In the lab each probe runs on a host the firewall lets through, whichever host asks.
        from strata.deploy.lab import check as lab_check

        firewalls = [(h.name, firewall.describe(h.netns)) for h in lab.hosts.values()]
        return print_status(config, *lab_check.status(lab), firewalls)
    secrets = cfgmod.load_secrets(config)
    # This machine's hosts share its one network stack: one firewall.
    here = ", ".join(h.name for h in config.local_hosts()) or "this machine"
    return print_status(
        config,
        health.roles_report(config, secrets),
        health.links_report(config, secrets),
        [(here, firewall.describe())],
    )


def cmd_manage(args) -> int:
    config = cfgmod.load(args.config)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "strata.site.settings")
    os.environ[cfgmod.ENV_CONFIG] = str(config.path)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["strata manage", *args.args])
    return 0


def cmd_mail(args) -> int:
    from strata.deploy.roles.comms.outbox import list_outbox

    config = cfgmod.load(args.config)
    mails = list_outbox(config.var_dir)
    if args.show is not None:
        if not 1 <= args.show <= len(mails):
            raise ConfigError(config.path, "", f"no message {args.show} in the outbox ({len(mails)} held)")
        out.print(
            mails[args.show - 1].path.read_bytes().decode("utf-8", "replace"), markup=False, highlight=False
        )
        return 0
    if config.enabled("comms") and config.roles["comms"]["relay_host"]:
        out.print(
            f"mail leaves through the relay {config.roles['comms']['relay_host']}; the outbox holds "
            f"only what was sent before it was set",
            markup=False,
        )
    table = Table(title=f"Outbox — {len(mails)} message(s), newest last")
    for col in ("#", "date", "to", "from", "subject", "message-id"):
        table.add_column(col)
    for i, m in enumerate(mails, 1):
        table.add_row(str(i), m.date, m.to, m.sender, m.subject, m.message_id)
    out.print(table)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="strata", description="Run and manage a Strata site.")
    p.add_argument("--version", action="version", version=f"strata {__version__}")
    p.add_argument(
        "-c",
        "--config",
        help="topology file (default: $STRATA_CONFIG, ./strata.toml, else the installed site's "
        "/etc/strata/strata.toml)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write the default strata.toml, secrets and local CA if missing")
    for option, what in (("var", "site.var_dir"), ("log", "site.log_dir")):
        init.add_argument(
            f"--{option}-dir", metavar="DIR", help=f"{what} of a new strata.toml (an existing one is kept)"
        )
    sub.add_parser("check", help="validate strata.toml and start nothing")
    sub.add_parser("up", help="start every role placed on this machine (safe to repeat)")
    sub.add_parser("down", help="stop everything started by `up`")
    sub.add_parser("status", help="each role's health and each link of the connection matrix")
    m = sub.add_parser("manage", help="run a Django management command for this site")
    m.add_argument("args", nargs=argparse.REMAINDER)
    mail = sub.add_parser("mail", help="mail kept by the comms role: `strata mail outbox`")
    mail.add_argument("what", choices=["outbox"], help="outbox: all mail held locally (no relay set)")
    mail.add_argument("--show", type=int, metavar="N", help="print message N in full")
    accounts_cli.add_parsers(sub)
    files_cli.add_parsers(sub)
    firewall_cli.add_parsers(sub)
    rotate_cli.add_parsers(sub)
    lab_cli.add_parsers(sub)
    deploy_cli.add_parsers(sub)
    drill_cli.add_parsers(sub)
    upgrade_cli.add_parsers(sub)
    return p


COMMANDS = {
    "init": cmd_init,
    "check": cmd_check,
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "manage": cmd_manage,
    "mail": cmd_mail,
}
COMMANDS.update(dict.fromkeys(accounts_cli.COMMANDS, accounts_cli.run))
COMMANDS.update(dict.fromkeys(files_cli.COMMANDS, files_cli.run))
COMMANDS.update(dict.fromkeys(firewall_cli.COMMANDS, firewall_cli.run))
COMMANDS.update(dict.fromkeys(rotate_cli.COMMANDS, rotate_cli.run))
COMMANDS.update(dict.fromkeys(lab_cli.COMMANDS, lab_cli.run))
COMMANDS.update(dict.fromkeys(deploy_cli.COMMANDS, deploy_cli.run))
COMMANDS.update(dict.fromkeys(drill_cli.COMMANDS, drill_cli.run))
COMMANDS.update(dict.fromkeys(upgrade_cli.COMMANDS, upgrade_cli.run))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        return _fail(exc, 2)
    except DeployError as exc:
        return _fail(exc, 1)
    except KeyboardInterrupt:
        return _fail(Exception("interrupted"), 130)


if __name__ == "__main__":
    sys.exit(main())
