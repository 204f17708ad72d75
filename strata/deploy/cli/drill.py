"""`strata drill`: argument parsing, the drill's throwaway accounts (through Django, like `strata users`)
and output; the drills themselves are in strata.deploy.drill."""

from __future__ import annotations

import argparse
import secrets
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
        "domain-down, upgrade, all)",
    )
    d.add_argument("drills", nargs="+", metavar="DRILL", help=f"{', '.join(drill.DRILLS)} or all")
    d.add_argument("--seconds", type=float, default=12, help="how long each drill's load runs (default 12)")
    d.add_argument("--report-dir", help="where the report goes (default: <var_dir>/drills)")
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


def _one(
    name: str, config: cfgmod.Config, sessions: list[drill.Session], people: _Accounts, seconds: float
) -> drill.Result:
    """Run drill NAME with the load's SESSIONS (logged in as the first person) and the run's PEOPLE."""
    (a, a_pw), (b, b_pw) = people.people["a"], people.people["b"]
    if name == "app-kill":
        return drill.app_kill(config, sessions, seconds)
    if name == "db-restart":
        return drill.db_restart(config, sessions, seconds, *_messages(config, (a, a_pw), b))
    if name == "files-down":
        return drill.files_down(config, sessions[0], seconds)
    if name == "domain-down":
        return drill.domain_down(config, sessions, seconds, (b, b_pw))
    if name == "upgrade":
        return drill.upgrade(config, sessions, seconds)
    return drill.comms_down(config, _messages(config, (a, a_pw), b)[0], seconds)


def run(args: argparse.Namespace) -> int:
    config = cfgmod.load(args.config)
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
    people = _Accounts(config)
    results = []
    try:
        a, a_pw = people.people["a"]
        sessions = [drill.Session(config) for _ in range(drill.THREADS)]
        for s in sessions:
            if s.login(a, a_pw) != 200:
                raise DeployError("drill: the drill's account could not log in")
        for name in names:
            r = _one(name, config, sessions, people, args.seconds)
            results.append(r)
            _print(r)
    finally:
        people.close()
    report = drill.write_report(
        results, Path(args.report_dir) if args.report_dir else config.var_dir / "drills"
    )
    out.print(f"report: {report}", markup=False, highlight=False)
    return 0 if all(r.passed for r in results) else 1
