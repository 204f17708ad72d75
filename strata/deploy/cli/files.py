"""`strata backup`, `strata restore` and `strata files reconcile`: thin wrappers over management commands."""

from __future__ import annotations

import argparse
import subprocess
import sys

from strata.deploy import config as cfgmod
from strata.deploy.roles.base import HostContext

COMMANDS = ("backup", "restore", "files")


def add_parsers(sub) -> None:
    b = sub.add_parser("backup", help="store a database dump and the file objects on the file server")
    b.add_argument("--list", action="store_true", help="list the backups")
    r = sub.add_parser("restore", help="restore a backup into an empty stack")
    r.add_argument("backup_id", metavar="BACKUP")
    r.add_argument("--force", action="store_true", help="replace a stack that already has data")
    f = sub.add_parser("files", help="file server maintenance: `strata files reconcile`")
    f.add_argument("what", choices=["reconcile"])
    f.add_argument("--delete", action="store_true", help="remove orphan objects past the grace period")
    f.add_argument("--grace-hours", type=float)


def _argv(args: argparse.Namespace) -> list[str]:
    if args.command == "backup":
        return ["strata_backup", *(["--list"] if args.list else [])]
    if args.command == "restore":
        return ["strata_restore", args.backup_id, *(["--force"] if args.force else [])]
    return [
        "files_reconcile",
        *(["--delete"] if args.delete else []),
        *(["--grace-hours", str(args.grace_hours)] if args.grace_hours is not None else []),
    ]


def run(args: argparse.Namespace) -> int:
    config = cfgmod.load(args.config)
    secrets = cfgmod.load_secrets(config)
    ctx = HostContext(config, secrets, (config.local_hosts() or config.hosts_of("app"))[0])
    proc = subprocess.run(
        [sys.executable, "-m", "django", *_argv(args)], env=ctx.django_env(), capture_output=True, text=True
    )
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()] or ["failed"]
        sys.stderr.write("strata: " + lines[-1].removeprefix("CommandError: ") + "\n")
    return proc.returncode
