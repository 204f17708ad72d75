"""`strata rotate`: argument parsing and output only; the work is in strata.deploy.rotate."""

from __future__ import annotations

import argparse

from strata.deploy.cli.output import out

COMMANDS = ("rotate",)


def add_parsers(sub) -> None:
    r = sub.add_parser(
        "rotate",
        help="new values for secrets, new certificates (on the control machine; then `strata deploy`, "
        "or `make up` on one machine)",
    )
    r.add_argument("--secret", action="append", default=[], metavar="KEY", help="a key of var/secrets.toml")
    r.add_argument(
        "--certificate",
        action="append",
        default=[],
        metavar="NAME",
        help="a certificate (web, domain, ...) or all",
    )


def run(args: argparse.Namespace) -> int:
    from strata.deploy import config as cfgmod
    from strata.deploy import rotate

    config = cfgmod.load(args.config)
    if not args.secret and not args.certificate:
        raise cfgmod.ConfigError(config.path, "", "name at least one --secret KEY or --certificate NAME")
    for line in rotate.rotate(config, args.secret, args.certificate):
        out.print(line, markup=False, highlight=False)
    out.print(
        "now run `strata deploy` (or `make up` on one machine): each host restarts what uses them",
        markup=False,
        highlight=False,
    )
    return 0
