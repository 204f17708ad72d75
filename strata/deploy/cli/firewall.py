"""`strata firewall show HOST`: argument parsing and output only; the work is in strata.deploy.firewall."""

from __future__ import annotations

import argparse

from strata.deploy.cli.output import out

COMMANDS = ("firewall",)


def add_parsers(sub) -> None:
    fw = sub.add_parser(
        "firewall", help="the nftables policy `strata deploy` installs: `strata firewall show HOST`"
    )
    actions = fw.add_subparsers(dest="action", required=True)
    show = actions.add_parser(
        "show",
        help="print the nftables file HOST gets (SSH open to site.management_networks, else to this "
        "machine's address toward HOST)",
    )
    show.add_argument("host", help="a host of the topology")


def run(args: argparse.Namespace) -> int:
    from strata.deploy import config as cfgmod
    from strata.deploy import firewall

    config = cfgmod.load(args.config)
    if args.host not in config.hosts:
        raise cfgmod.ConfigError(
            config.path, "hosts", f"unknown host {args.host!r} (known: {', '.join(config.hosts)})"
        )
    text = firewall.render(config, args.host, management=firewall.management_networks(config, args.host))
    out.print(text, markup=False, highlight=False, end="")
    return 0
