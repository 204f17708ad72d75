"""`strata backup`, `strata restore` and `strata files reconcile`: thin wrappers over management commands."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from strata.deploy import config as cfgmod
from strata.deploy import local
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.db import pitr
from strata.deploy.system import DeployError

COMMANDS = ("backup", "restore", "files")
# An app host holds no S3 admin key: a restore there takes it from these (strata.files.backup.ADMIN_KEY_ENV).
ADMIN_KEY_ENV = ("STRATA_S3_ADMIN_ACCESS_KEY", "STRATA_S3_ADMIN_SECRET_KEY")


def add_parsers(sub) -> None:
    b = sub.add_parser("backup", help="store a database dump and the file objects on the file server")
    b.add_argument("--list", action="store_true", help="list the backups")
    r = sub.add_parser(
        "restore", help="restore a backup into an empty stack, or (--to) the database to a past moment"
    )
    r.add_argument("backup_id", metavar="BACKUP", nargs="?")
    r.add_argument(
        "--to",
        metavar="TIME",
        help='point-in-time recovery: "YYYY-MM-DD HH:MM:SS" (UTC), with the files role\'s pitr on',
    )
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


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"strata: {message}\n")
    return code


def _restore_to(args: argparse.Namespace) -> int:
    if args.backup_id:
        return _fail("give either a BACKUP or --to TIME, not both")
    try:
        result = local.restore_to(args.config, args.to, step=lambda msg: print(f"... {msg}", flush=True))
    except (pitr.PitrError, DeployError) as exc:
        return _fail(str(exc))
    print(
        f"restored the database to {result.target} UTC (from full backup {result.backup}) "
        f"in {result.seconds:.1f}s (" + ", ".join(f"{k} {v:.1f}s" for k, v in result.phases.items()) + ")"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "restore" and args.to is not None:
        return _restore_to(args)
    if args.command == "restore" and not args.backup_id:
        return _fail("give a BACKUP (see `strata backup --list`) or --to TIME")
    config = cfgmod.load(args.config)
    here = {h.name for h in config.local_hosts()}
    app_here = [h for h in config.hosts_of("app") if h.name in here]
    if not app_here:
        return _not_an_app_host(args, config, here)
    secrets = cfgmod.load_secrets(config)
    # This machine's app host (on a machine with several hosts, not whichever comes first).
    ctx = HostContext(config, secrets, app_here[0])
    env = ctx.django_env()
    if args.command == "restore":
        env.update({k: os.environ[k] for k in ADMIN_KEY_ENV if os.environ.get(k)})
    proc = subprocess.run(
        [sys.executable, "-m", "django", *_argv(args)], env=env, capture_output=True, text=True
    )
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()] or ["failed"]
        sys.stderr.write("strata: " + lines[-1].removeprefix("CommandError: ") + "\n")
    if args.command == "backup" and not args.list and proc.returncode in (0, 1):
        code, line = _archive_report_for(args.config)
        if line:
            print(line)
        return max(proc.returncode, code)
    return proc.returncode


def _not_an_app_host(args: argparse.Namespace, config, here: set[str]) -> int:
    """On a host without the app role: the dump and file copies run from an app host; on the db host,
    `strata backup` checks and reports the WAL archive (pgBackRest's repository)."""
    apps = ", ".join(dict.fromkeys(h.name for h in config.hosts_of("app")))
    if (
        args.command == "backup"
        and not args.list
        and config.host_of("db").name in here
        and pitr.enabled(config)
    ):
        print(f"database dump and file copies: run `strata backup` on an app host ({apps})")
        code, line = _archive_report_for(args.config)
        print(line)
        return code
    return _fail(f"run `strata {args.command}` on an app host ({apps}): this host runs no app server")


def _archive_report_for(path) -> tuple[int, str]:
    config = cfgmod.load(path)
    if not pitr.enabled(config):
        return 0, ""
    if config.host_of("db").name not in {h.name for h in config.local_hosts()}:
        return 0, "archive: checked on the db host (run `strata backup` there to see it)"
    try:
        repo = local.pitr_repo(path)
        assert repo is not None
        repo.check()
        return 0, pitr.summary(repo)
    except (pitr.PitrError, DeployError) as exc:
        return 1, f"archive: NOT OK: {exc}"
