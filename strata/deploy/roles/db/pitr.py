"""Point-in-time recovery with pgBackRest (files role option `pitr`): PostgreSQL archives its WAL into an
encrypted S3 repository on the file server, the `db-pitr` program makes a full backup on a schedule, and
`strata restore --to TIME` brings the database back to TIME. No Django import: the deployer, the CLI and
the scheduler program (`python -m strata.deploy.roles.db.pitr schedule`) use it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

STANZA = "strata"
PGBACKREST = "/usr/bin/pgbackrest"
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


class PitrError(Exception):
    """A point-in-time operation that cannot go on (the message is one line for the admin)."""


def enabled(config) -> bool:
    return config.enabled("files") and bool(config.roles["files"]["pitr"])


def conf_path(etc: Path) -> Path:
    return etc / "pgbackrest.conf"


def pgpass_path(etc: Path) -> Path:
    return etc / "pgbackrest.pgpass"


@dataclass
class Repo:
    """How to run pgBackRest on the db host: its config, the password file and the OS user."""

    conf: Path
    pgpass: Path
    user: str | None

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGPASSFILE": str(self.pgpass),
            "LANG": "C.UTF-8",
        }

    def run(self, *args: str, timeout: float = 3600, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [PGBACKREST, f"--config={self.conf}", f"--stanza={STANZA}", *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout)
        if check and proc.returncode != 0:
            raise PitrError(f"pgbackrest {args[0]} failed: {_last_line(proc)}")
        return proc

    def info(self) -> dict:
        out = self.run("info", "--output=json", timeout=120).stdout
        stanzas = json.loads(out or "[]")
        return stanzas[0] if stanzas else {}

    def ensure_stanza(self) -> None:
        self.run("stanza-create", timeout=300)

    def full_backup(self) -> dict:
        self.run("backup", "--type=full")
        return self.backups()[-1]

    def backups(self) -> list[dict]:
        return list(self.info().get("backup", []))

    def check(self) -> None:
        self.run("check", timeout=300)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def parse_target(text: str) -> dt.datetime:
    """Return TEXT ("YYYY-MM-DD HH:MM[:SS]", UTC) as an aware datetime; PitrError when it is not one."""
    for fmt in TIME_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise PitrError(f'{text!r} is not a time: give it as "YYYY-MM-DD HH:MM:SS" (UTC)')


def summary(repo: Repo) -> str:
    """One line on the archive: the last full backup, its size, and how far the WAL reaches."""
    info = repo.info()
    backups = info.get("backup", [])
    if not backups:
        return "archive: no full backup yet (the db-pitr program makes the first one)"
    last = backups[-1]
    stop = dt.datetime.fromtimestamp(last["timestamp"]["stop"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    first = dt.datetime.fromtimestamp(backups[0]["timestamp"]["start"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    archive = (info.get("archive") or [{}])[-1]
    size = last.get("info", {}).get("repository", {}).get("delta", 0)
    return (
        f"archive: ok, {len(backups)} full backup(s), the last {last['label']} at {stop} UTC "
        f"({size / 2**20:.1f} MiB in the repository); WAL up to {archive.get('max', '?')}; "
        f"restorable from {first} UTC"
    )


def schedule(repo: Repo, every_hours: float, poll: float = 60) -> None:
    """The db-pitr program: create the stanza when the file server answers, then keep a full backup no
    older than EVERY_HOURS."""
    while True:
        try:
            repo.ensure_stanza()
            backups = repo.backups()
            age = time.time() - backups[-1]["timestamp"]["stop"] if backups else None
            if age is None or age > every_hours * 3600:
                started = time.monotonic()
                made = repo.full_backup()
                print(f"full backup {made['label']} in {time.monotonic() - started:.1f}s", flush=True)
        except (PitrError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
            print(f"pitr: {exc}", flush=True)
            time.sleep(min(poll, 10))
            continue
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-pitr")
    parser.add_argument("what", choices=["schedule"])
    parser.add_argument("--conf", required=True)
    parser.add_argument("--pgpass", required=True)
    parser.add_argument("--every-hours", type=float, required=True)
    args = parser.parse_args(argv)
    schedule(Repo(Path(args.conf), Path(args.pgpass), None), args.every_hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
