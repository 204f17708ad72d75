"""The `strata` command line: argument parsing and output only; the work is in strata.deploy."""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console
from rich.table import Table

from strata import __version__, deploy, health
from strata import config as cfgmod
from strata.config import ConfigError
from strata.system import DeployError

out = Console(soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
STATE_STYLE = {"ok": "green", "down": "bold red", "fallback": "yellow", "unused": "dim"}


def _fail(exc: Exception, code: int) -> int:
    err.print(f"strata: {exc}", markup=False)
    return code


def cmd_init(args) -> int:
    _config, changes = deploy.init(args.config)
    for line in changes or ["nothing to do: config, secrets and CA already exist"]:
        out.print(line, markup=False)
    return 0


def cmd_check(args) -> int:
    config = cfgmod.load(args.config)
    out.print(f"{config.path}: ok ({len(config.hosts)} host(s), roles: "
              f"{', '.join(r for r in cfgmod.ROLE_NAMES if config.enabled(r))})", markup=False)
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
    out.print(f"TLS: the site's local CA is {result.ca_cert} (import it into your browser to trust the site)",
              markup=False, highlight=False)
    if result.admin_password:
        out.print(f"Admin account created — username: [bold]{result.admin_username}[/bold]  password: "
                  f"[bold]{result.admin_password}[/bold]  (shown once; also in the secrets file)")
    return 0


def cmd_down(args) -> int:
    stopped = deploy.down(args.config)
    out.print("stopped" if stopped else "nothing was running")
    return 0


def cmd_status(args) -> int:
    config = cfgmod.load(args.config)
    secrets = cfgmod.load_secrets(config)
    roles = health.roles_report(config, secrets)
    table = Table(title=f"Strata roles — {config.url()}")
    for col in ("role", "seed", "hosts", "health", "details"):
        table.add_column(col)
    for r in roles:
        detail = f"{r.detail}: {r.fallback}" if r.state == "fallback" else r.detail
        state = "fallback in use" if r.state == "fallback" else r.state
        table.add_row(r.role, "required" if r.required else "optional", ", ".join(r.hosts) or "—",
                      f"[{STATE_STYLE[r.state]}]{state}[/]", detail)
    out.print(table)
    links = Table(title="Connection matrix")
    for col in ("from", "to", "why", "state", "details"):
        links.add_column(col)
    for link in health.links_report(config, secrets):
        links.add_row(link.source, link.target, link.purpose,
                      f"[{STATE_STYLE[link.state]}]{link.state}[/]", link.detail)
    out.print(links)
    return 0 if all(r.state != "down" for r in roles) else 1


def cmd_manage(args) -> int:
    config = cfgmod.load(args.config)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "strata.settings")
    os.environ[cfgmod.ENV_CONFIG] = str(config.path)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["strata manage", *args.args])
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="strata", description="Run and manage a Strata site.")
    p.add_argument("--version", action="version", version=f"strata {__version__}")
    p.add_argument("-c", "--config", help="topology file (default: $STRATA_CONFIG or ./strata.toml)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="write the default strata.toml, secrets and local CA if missing")
    sub.add_parser("check", help="validate strata.toml and start nothing")
    sub.add_parser("up", help="start every role placed on this machine (safe to repeat)")
    sub.add_parser("down", help="stop everything started by `up`")
    sub.add_parser("status", help="each role's health and each link of the connection matrix")
    m = sub.add_parser("manage", help="run a Django management command for this site")
    m.add_argument("args", nargs=argparse.REMAINDER)
    return p


COMMANDS = {"init": cmd_init, "check": cmd_check, "up": cmd_up, "down": cmd_down,
            "status": cmd_status, "manage": cmd_manage}


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
