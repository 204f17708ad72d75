"""`strata lab up|status|check|drill|upgrade|down`: argument parsing and output only; the work is in
strata.deploy.lab.run, strata.deploy.lab.check, (drills) strata.deploy.lab.drill and (the rolling
upgrade) strata.deploy.lab.upgrade."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from strata.deploy.cli.output import out, print_status
from strata.deploy.config import ConfigError

COMMANDS = ("lab",)
DEFAULT_DIR = "var/lab"


def add_parsers(sub) -> None:
    lab = sub.add_parser(
        "lab", help="every host in its own network namespace: `strata lab up|status|check|drill|upgrade|down`"
    )
    ls = lab.add_subparsers(dest="action", required=True)
    up = ls.add_parser("up", help="build the lab and start every host's roles in its own namespace")
    up.add_argument(
        "--topology",
        metavar="FILE",
        help="a strata.toml with hosts in 198.18.0.0/24 (default: each role on its own host, two app hosts)",
    )
    for name, text in (
        ("up", None),
        ("status", "each role and link, probed from the lab's hosts"),
        (
            "check",
            "try every flow between the hosts: allowed ones succeed, others are blocked (exit 1 if not)",
        ),
        ("down", "stop every host and remove the namespaces, veths, bridge and firewalls"),
    ):
        p = up if text is None else ls.add_parser(name, help=text)
        p.add_argument("--dir", default=DEFAULT_DIR, help=f"the lab's directory (default: {DEFAULT_DIR})")
    d = ls.add_parser(
        "drill", help="the fault drills from the lab's control, each breaking its role on the host running it"
    )
    d.add_argument("--dir", default=DEFAULT_DIR, help=f"the lab's directory (default: {DEFAULT_DIR})")
    from strata.deploy.cli import drill as drillcli

    drillcli.add_arguments(d, "<lab dir>/drills")
    u = ls.add_parser(
        "upgrade",
        help="strata upgrade across the lab's hosts from its control: migrate once, then each app server "
        "out of the web host's pool, restarted, back in",
    )
    u.add_argument("--dir", default=DEFAULT_DIR, help=f"the lab's directory (default: {DEFAULT_DIR})")
    u.add_argument(
        "--contract",
        action="store_true",
        help="also run migrations the old release would not tolerate (only when no old code runs)",
    )


def _lab(args):
    from strata.deploy.lab import run

    lab = run.load(args.dir)
    if lab is None:
        raise ConfigError(Path(args.dir).resolve() / run.STATE, "", "no lab here: run `strata lab up` first")
    return lab


def run(args: argparse.Namespace) -> int:
    actions = {
        "up": _up,
        "status": _status,
        "check": _check,
        "down": _down,
        "drill": _drill,
        "upgrade": _upgrade,
    }
    return actions[args.action](args)


def _up_lab(args):
    lab = _lab(args)
    if not lab.up:
        raise ConfigError(Path(lab.dir) / "lab.json", "up", "the lab is not up: run `strata lab up` first")
    return lab


def _upgrade(args) -> int:
    from strata.deploy import upgrade
    from strata.deploy.cli import upgrade as upgrade_cli
    from strata.deploy.cli.output import err
    from strata.deploy.lab import upgrade as labupgrade

    lab = _up_lab(args)

    def step(msg: str) -> None:
        out.print(f"• {msg}", markup=False, highlight=False)

    try:
        result = labupgrade.lab_upgrade(lab, step, contract=args.contract)
    except upgrade.MigrationRefused as exc:
        err.print(f"strata: refused, nothing changed: {exc}", markup=False, highlight=False)
        return 2
    return upgrade_cli.report(result, "upgraded the lab")


def _drill(args) -> int:
    from strata.deploy.cli import drill as drillcli
    from strata.deploy.lab import drill as labdrill
    from strata.deploy.lab import upgrade as labupgrade

    lab = _up_lab(args)
    config = lab.config()
    names = drillcli.check_args(config, args, lab=True)
    people = labdrill.Accounts(lab)
    try:
        results = drillcli.drive(
            names,
            labdrill.views(lab),
            people.people,
            lambda: labdrill.backups(lab),
            args.seconds,
            lambda: labupgrade.lab_upgrade(lab),
        )
    finally:
        people.close()
    return drillcli.finish(results, Path(args.report_dir) if args.report_dir else Path(lab.dir) / "drills")


def _up(args) -> int:
    from strata.deploy.lab import run as labrun

    with out.status("building the lab…") as status:

        def step(msg):
            status.update(msg)
            out.print(f"[dim]•[/dim] {msg}", highlight=False)

        lab = labrun.up(args.dir, args.topology, step=step)
    config = lab.config()
    table = Table(title=f"Lab {lab.suffix} — {lab.subnet}, bridge {lab.bridge} {lab.bridge_address}")
    for col in ("host", "address", "namespace", "roles"):
        table.add_column(col)
    for h in lab.hosts.values():
        table.add_row(h.name, h.address, h.netns, ", ".join(config.roles_on(h.name)))
    out.print(table)
    web = config.hosts_of("web")[0]
    url = f"https://{web.address}:{config.roles['web']['https_port']}/"
    out.print(
        f"\n[bold green]The lab is up:[/bold green] {url}  (CA: {lab.ca()}; config: {lab.config_path})",
        highlight=False,
    )
    out.print(
        f"Admin account: {config.site['admin_username']} (password: admin_password in "
        f"{lab.shared / 'secrets.toml'})",
        highlight=False,
    )
    first = next(iter(lab.hosts.values())).netns
    out.print(f"Run a command on a host: ip netns exec {first} …", highlight=False)
    return 0


def _status(args) -> int:
    from strata.deploy import firewall
    from strata.deploy.lab import check

    lab = _lab(args)
    roles, links = check.status(lab)
    firewalls = [(h.name, firewall.describe(h.netns)) for h in lab.hosts.values()]
    return print_status(lab.config(), roles, links, firewalls)


def _check(args) -> int:
    from strata.deploy.lab import check

    lab = _lab(args)
    flows = check.check(lab)
    sources = list(dict.fromkeys(f.source for f in flows))
    table = Table(title="TCP to every role port of every host (rows) from every host (columns)")
    table.add_column("to host:port", no_wrap=True)
    table.add_column("role")
    for s in sources:
        table.add_column(s, justify="center")
    rows: dict[tuple[str, int, str], dict[str, check.Flow]] = {}
    for f in flows:
        rows.setdefault((f.target, f.port, f.role), {})[f.source] = f
    for (target, port, role), cells in rows.items():
        row = [f"{target}:{port}", role]
        for s in sources:
            cell = cells.get(s)
            if cell is None:
                row.append("[dim]—[/]")
            elif cell.as_expected:
                row.append("[green]✓[/]" if cell.expected else "[dim]·[/]")
            else:
                row.append(f"[bold red]✗ {cell.result}[/]")
        table.add_row(*row)
    out.print(table)
    out.print(
        "✓ allowed by the matrix and open   · blocked as the matrix says   — the host itself   "
        "✗ disagrees with the matrix (what happened)",
        highlight=False,
    )
    wrong = [f for f in flows if not f.as_expected]
    allowed = sum(f.expected for f in flows)
    out.print(
        f"{len(flows)} flows: {allowed} allowed, {len(flows) - allowed} blocked by the matrix; "
        + (f"[bold red]{len(wrong)} disagree[/]" if wrong else "[green]all as the matrix says[/]")
    )
    return 1 if wrong else 0


def _down(args) -> int:
    from strata.deploy.lab import run as labrun

    if labrun.load(args.dir) is None:
        out.print("no lab recorded there: nothing to do")
        return 0
    problems = labrun.down(args.dir)
    for p in problems:
        out.print(f"[yellow]warning:[/] {p}", highlight=False)
    out.print("the lab is down")
    return 0
