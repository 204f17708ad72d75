"""`strata deploy`: argument parsing and output only; the work is in strata.deploy.playbook."""

from __future__ import annotations

import argparse

from rich.console import Console

COMMANDS = ("deploy",)
out = Console(soft_wrap=True, highlight=False)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "deploy", help="install and start the topology on real servers with Ansible (deploy/ansible/)"
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--inventory", metavar="FILE", help="run the playbook against the hosts of FILE")
    what.add_argument(
        "--write-inventory",
        metavar="FILE",
        help="write an inventory from the topology (hosts, addresses, one group per role)",
    )
    p.add_argument(
        "--no-firewall",
        action="store_true",
        help="install no firewall (you manage your own): Strata's nftables table is removed where an "
        "earlier deploy loaded it",
    )
    p.add_argument(
        "--rolling",
        action="store_true",
        help="upgrade a deployed site to this release with no failed request: install it everywhere, "
        "migrate once, restart each app host in turn out of the pools (deploy/ansible/upgrade.yml)",
    )
    p.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a playbook variable, e.g. strata_supervisor=supervisord or "
        "strata_install_dir=/srv/strata (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from strata.deploy import config as cfgmod
    from strata.deploy import playbook

    if args.write_inventory:
        config = cfgmod.load(args.config)
        path = playbook.write_inventory(config, args.write_inventory)
        out.print(
            f"wrote {path} ({len(config.hosts)} host(s)); deploy with: strata deploy --inventory {path}",
            markup=False,
        )
        return 0

    def step(msg):
        out.print(f"[dim]•[/dim] {msg}")

    code = playbook.run(
        args.inventory,
        args.config,
        args.extra_vars,
        step=step,
        firewall=not args.no_firewall,
        rolling=args.rolling,
    )
    if code:
        out.print(f"strata: ansible-playbook failed (exit code {code})", markup=False)
        return 1
    admin = playbook.first_admin_once(args.config)
    if admin:
        # Only here, on the control machine's terminal: the hosts got its hash, Ansible never saw it.
        out.print(
            f"Admin account — username: {admin[0]}  password: {admin[1]}  (shown once; kept only on this "
            f"machine, in the secrets file)",
            markup=False,
        )
    return 0
