"""`strata drill`: argument parsing, the drill's throwaway accounts (through Django, like `strata users`)
and output; the drills themselves are in strata.deploy.drill."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import drill
from strata.deploy.cli.output import out
from strata.deploy.system import DeployError

COMMANDS = ("drill",)


def add_parsers(sub) -> None:
    d = sub.add_parser(
        "drill",
        help="fault drills against the deployment on this machine, measured (app-kill, db-restart, "
        "domain-down, comms-down, files-down, backup-restore, upgrade, all)",
    )
    add_arguments(d, "<var_dir>/drills")


def add_arguments(d, report_dir: str) -> None:
    """Add the drill's arguments to the parser D (`strata drill`, `strata lab drill`)."""
    d.add_argument("drills", nargs="+", metavar="DRILL", help=f"{', '.join(drill.DRILLS)} or all")
    d.add_argument("--seconds", type=float, default=12, help="how long each drill's load runs (default 12)")
    d.add_argument("--report-dir", help=f"where the report goes (default: {report_dir})")
    d.add_argument("--yes-really", action="store_true", help="drill a topology marked production")


class _Accounts:
    """Two people made for the run (a random name and password each), disabled at the end."""

    def __init__(self, config: cfgmod.Config):
        from strata.deploy.cli.accounts import _account, _setup

        _setup(argparse.Namespace(config=str(config.path)))
        from strata.accounts import directory

        self.directory, self.account = directory, _account()
        tag = secrets.token_hex(3)
        self.people = {who: (f"drill-{tag}-{who}", secrets.token_urlsafe(18)) for who in ("a", "b")}
        for name, password in self.people.values():
            directory.add_user(
                name,
                password,
                account=self.account,
                first_name="Drill",
                last_name=name,
                email=f"{name}@example.org",  # a reserved domain: the local outbox, or the relay's refusal
            )

    def close(self) -> None:
        from django.db import connections

        for conn in connections.all():  # the database may have restarted under the pooled connections
            conn.close()
            getattr(conn, "close_pool", lambda: None)()
        for name, _pw in self.people.values():
            self.directory.disable_user(name, account=self.account)


def _messages(config: cfgmod.Config, sender: tuple[str, str], to: str):
    """Return write(n) and still_there(subjects): N new conversations from SENDER to TO, and how many of
    them SENDER's inbox lists."""
    session = drill.Session(config)

    def write(n: int) -> list[str]:
        if session.login(*sender) != 200:
            raise DeployError("drill: the drill's account could not log in")
        subjects = [f"drill {secrets.token_hex(4)}" for _ in range(n)]
        for subject in subjects:
            status, _h, _b = session.request("/messages/new/", {"to": to, "subject": subject, "body": "x"})
            if status != 200:
                raise DeployError(f"drill: sending a message answered {status}")
        return subjects

    def still_there(subjects: list[str]) -> int:
        _status, _h, body = session.request("/messages/")
        return sum(1 for s in subjects if s in body)

    return write, still_there


def _print(r: drill.Result) -> None:
    measured = ", ".join(f"{k} {v}" for k, v in r.measured.items())
    verdict = "pass" if r.passed else "FAIL"
    out.print(f"{r.drill}: {verdict} — {r.did}; {measured}", markup=False, highlight=False)
    for note in r.notes:
        out.print(f"  {note}", markup=False, highlight=False)


def check_args(config: cfgmod.Config, args: argparse.Namespace) -> list[str]:
    """Return the drills to run: ARGS' names, less those whose role is off when `all` is asked; refuse a
    production topology without --yes-really and an unknown name (ConfigError, exit 2)."""
    try:
        names = drill.check_names(args.drills)
    except ValueError as exc:
        raise cfgmod.ConfigError(config.path, "drill", str(exc)) from None
    if config.site.get("production") and not args.yes_really:
        raise cfgmod.ConfigError(
            config.path, "site.production", "this topology is marked production: add --yes-really to drill it"
        )
    for role in ("domain", "comms", "files"):
        if args.drills == ["all"] and not config.enabled(role):
            names.remove(f"{role}-down")
            out.print(f"{role}-down: skipped (the {role} role is off)", markup=False, highlight=False)
    if args.drills == ["all"] and not config.enabled("files") and "backup-restore" in names:
        names.remove("backup-restore")
        out.print("backup-restore: skipped (backups are kept by the files role, off)", markup=False)
    if args.drills == ["all"] and not upgrade_applies(config):
        names.remove("upgrade")
        out.print(
            "upgrade: skipped (strata upgrade runs where the web and app roles share one host)", markup=False
        )
    return names


def upgrade_applies(config: cfgmod.Config) -> bool:
    """Return whether `strata upgrade` can roll this topology: its web and app roles on one host alone."""
    hosts = {h.name for r in ("web", "app") for h in config.hosts_of(r)}
    return len(hosts) == 1


def local_backups(config: cfgmod.Config) -> drill.Backups:
    """Return the backup-restore drill's reach on this machine: the CLI here, S3 from here."""
    from strata.deploy import drill_objects

    secrets = cfgmod.load_secrets(config)
    env = {**os.environ, **admin_key_env(secrets)}

    def strata(*args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(config.path), *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)

    return drill.Backups(strata, lambda op, args: drill_objects.answer(config, secrets, op, args))


def admin_key_env(secrets: dict) -> dict[str, str]:
    """Return the S3 admin keys as `strata restore` takes them on a host that does not hold them."""
    return {
        "STRATA_S3_ADMIN_ACCESS_KEY": secrets["s3_admin_access_key"],
        "STRATA_S3_ADMIN_SECRET_KEY": secrets["s3_admin_secret_key"],
    }


def drive(
    names: list[str],
    view: Callable[[str], cfgmod.Config],
    people: dict[str, tuple[str, str]],
    backups: Callable[[], drill.Backups],
    seconds: float,
) -> list[drill.Result]:
    """Run the drills NAMES, each against VIEW(role): the topology as seen from the host that runs the
    role it breaks (the one machine for a local deployment); print each result and return them."""
    (a, a_pw), (b, b_pw) = people["a"], people["b"]
    site = view("web")
    sessions = [drill.Session(site) for _ in range(drill.THREADS)]
    for s in sessions:
        if s.login(a, a_pw) != 200:
            raise DeployError("drill: the drill's account could not log in")
    results = []
    for name in names:
        if name == "app-kill":
            r = drill.app_kill(view("app"), sessions, seconds)
        elif name == "db-restart":
            r = drill.db_restart(view("db"), sessions, seconds, *_messages(site, (a, a_pw), b))
        elif name == "files-down":
            r = drill.files_down(view("files"), sessions[0], seconds)
        elif name == "domain-down":
            r = drill.domain_down(view("domain"), sessions, seconds, (b, b_pw))
        elif name == "upgrade":
            r = drill.upgrade(view("app"), sessions, seconds)
        elif name == "backup-restore":
            write, still_there = _messages(site, (a, a_pw), b)
            r = drill.backup_restore(view("app"), sessions[0], (a, a_pw), write, still_there, backups())
        else:
            r = drill.comms_down(view("comms"), _messages(site, (a, a_pw), b)[0], seconds)
        results.append(r)
        _print(r)
    return results


def finish(results: list[drill.Result], report_dir: Path) -> int:
    """Write the report; return the exit code (1 when a drill failed)."""
    report = drill.write_report(results, report_dir)
    out.print(f"report: {report}", markup=False, highlight=False)
    return 0 if all(r.passed for r in results) else 1


def run(args: argparse.Namespace) -> int:
    config = cfgmod.load(args.config)
    names = check_args(config, args)
    people = _Accounts(config)
    try:
        results = drive(
            names, lambda _role: config, people.people, lambda: local_backups(config), args.seconds
        )
    finally:
        people.close()
    return finish(results, Path(args.report_dir) if args.report_dir else config.var_dir / "drills")
