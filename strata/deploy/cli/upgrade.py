"""`strata upgrade`: argument parsing and output; the work is in strata.deploy.upgrade."""

from __future__ import annotations

import argparse
import json

from strata.deploy import upgrade
from strata.deploy.cli.output import err, out

COMMANDS = ("upgrade",)


def add_parsers(sub) -> None:
    u = sub.add_parser(
        "upgrade",
        help="move the site to the release site.code_dir names, one app server at a time (no failed request)",
    )
    u.add_argument(
        "--contract",
        action="store_true",
        help="also run migrations the old release would not tolerate (only when no old code runs)",
    )
    u.add_argument(
        "--drain-timeout",
        type=float,
        default=0,
        help="most seconds to wait for an app server's requests (default: roles.app.timeout + 5)",
    )
    # One step of `strata lab upgrade` or `strata deploy --rolling`, run on a host by its driver (not for
    # people).
    u.add_argument("--host-step", choices=upgrade.HOST_STEPS, help=argparse.SUPPRESS)
    u.add_argument("--servers", default="", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    def step(msg: str) -> None:
        out.print(f"• {msg}", markup=False, highlight=False)

    try:
        if args.host_step:
            answer = upgrade.host_step(
                args.config, args.host_step, args.servers, args.contract, step, args.drain_timeout
            )
            out.print(json.dumps(answer), markup=False, highlight=False, soft_wrap=True)
            return 0
        result = upgrade.upgrade(args.config, step, contract=args.contract, drain_timeout=args.drain_timeout)
    except upgrade.MigrationRefused as exc:
        err.print(f"strata: refused, nothing changed: {exc}", markup=False, highlight=False)
        return 2
    return report(result, "upgraded")


def report(result: upgrade.UpgradeResult, what: str) -> int:
    """Print the upgrade's one-line summary (WHAT: e.g. "upgraded the lab"); return exit code 0."""
    drained = ", ".join(f"{k} {v}s" for k, v in result.drained_s.items())
    out.print(
        f"{what} to {result.code} in {result.seconds}s: {len(result.migrations)} migration(s), "
        f"restarted {', '.join(result.restarted)} (out of the pool: {drained})",
        markup=False,
        highlight=False,
    )
    return 0
