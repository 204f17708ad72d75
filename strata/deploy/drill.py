"""`strata drill`: fault drills against the deployment running on this machine, measured from outside.

Each drill puts a steady load on the site through nginx (threads, each with its own logged-in session,
GETting a page that needs the database), breaks one thing the way a crash or an operator would (through
the host's supervisor), puts it back, and compares what the load saw with the targets below (the
README's "Fault drills" table). Nothing is faked: the failures counted are the answers people would
have had.

The people the load logs in as are made for the run by the caller (the CLI: two throwaway accounts,
disabled afterwards), so this module stays on the deployer's side: HTTP, supervisor and the clock.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import re
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from strata.deploy.config import Config
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError

if TYPE_CHECKING:
    from strata.deploy.upgrade import UpgradeResult

DRILLS: tuple[str, ...] = ("app-kill", "db-restart", "domain-down", "comms-down", "files-down")
# What each drill must show. failed: requests answered with anything but the page (or, while the
# database is down, a 503 with Retry-After); recovery_s: from the broken part back to pages served.
TARGETS: dict[str, dict[str, float]] = {
    "app-kill": {"failed": 0, "recovery_s": 10},
    "db-restart": {"failed": 0, "unexplained_503": 0, "recovery_s": 10, "lost_rows": 0},
    "domain-down": {"failed": 0, "login_refusal_s": 1, "login_not_503": 0},
    "comms-down": {"lost": 0, "duplicated": 0, "sent_while_down": 0, "delivered_after_s": 120},
}
MAILS = 5  # notifications queued while the mail server is down
TARGETS["files-down"] = {
    "unclean_errors": 0,
    "orphan_rows": 0,
    "missing_rows": 0,
    "failed_after": 0,
    "recovery_s": 30,
}
UPLOADS = 5  # uploads tried while the file server is down, and again after
# backup-restore: what it writes before the backup, and what it must find again, byte for byte, after
# the wipe and the restore. measured lost: rows or files gone; mismatches: files whose bytes (or recorded
# checksum) differ; survived_wipe: drill objects still on the file server after the wipe (the wipe failed).
TARGETS["backup-restore"] = {"mismatches": 0, "lost": 0, "survived_wipe": 0}
DRILLS = (*DRILLS, "backup-restore")
BACKUP_ROWS = 5
BACKUP_FILES = 3
BACKUP_FILE_BYTES = 256 * 1024
# duration_s: the whole `strata upgrade` (check, migrate, every app server in turn, the other programs);
# failed counts the GETs and the uploads; lost_uploads: uploads answered 201 whose file is not listed
# afterwards with the same bytes (its recorded sha256).
TARGETS["upgrade"] = {"failed": 0, "lost_uploads": 0, "duration_s": 300}
UPGRADE_UPLOADS = 90  # at most, one every UPGRADE_UPLOAD_PAUSE s (the listing checks them in one search)
UPGRADE_UPLOAD_PAUSE = 0.3
DRILLS = (*DRILLS, "upgrade")
PAGE = "/people/"  # the directory: the session, the user and the rows, from the database
THREADS = 4
TIMEOUT = 15  # seconds a drill request may take


@dataclass
class Result:
    drill: str
    did: str
    measured: dict[str, float]
    targets: dict[str, float]
    requests: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(self.measured.get(k, float("inf")) <= v for k, v in self.targets.items())


class Session:
    """One person's HTTPS session with the site (cookies, CSRF), as a browser holds it."""

    def __init__(self, config: Config):
        self.base = config.url().rstrip("/")
        ctx = ssl.create_default_context(cafile=str(config.ca_cert))
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPCookieProcessor(self.jar)
        )

    def csrf(self) -> str:
        return next((c.value or "" for c in self.jar if c.name == "csrftoken"), "")

    def request(self, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        """GET PATH, or POST FORM to it as the page's form does; return status, headers, body."""
        data = None
        if form is not None:
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self.csrf()}).encode()
        return self._open(path, data, {"Referer": self.base + path})

    def put(self, path: str, data: bytes) -> tuple[int, str]:
        """PUT DATA to PATH as the page's script does (the session, X-CSRFToken); return status, body."""
        headers = {"Referer": self.base + "/", "X-CSRFToken": self.csrf(), "Content-Type": "text/plain"}
        status, _h, body = self._open(path, data, headers, "PUT")
        return status, body

    def _open(self, path: str, data: bytes | None, headers: dict, method: str | None = None):
        req = urllib.request.Request(self.base + path, data, headers, method=method)  # noqa: S310 (https://)
        try:
            with self.opener.open(req, timeout=TIMEOUT) as resp:
                return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode(errors="replace")

    def login(self, username: str, password: str) -> int:
        """Log in; return the status of the page it lands on (200 when in, 503 when it cannot be)."""
        self.request("/accounts/login/")
        status, _h, body = self.request("/accounts/login/", {"username": username, "password": password})
        if status == 200 and 'name="password"' in body:
            return 401
        return status


class Load:
    """THREADS sessions GETting PAGE until stopped; every answer is kept with its time."""

    def __init__(self, sessions: list[Session]):
        self.sessions = sessions
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.seen: list[tuple[float, int, bool]] = []  # (monotonic time, status or 0, Retry-After sent)
        self.threads = [threading.Thread(target=self._run, args=(s,), daemon=True) for s in sessions]

    def _run(self, s: Session) -> None:
        while not self.stop_event.is_set():
            try:
                status, headers, _b = s.request(PAGE)
                retry = bool(headers.get("Retry-After"))
            except (OSError, urllib.error.URLError):
                status, retry = 0, False
            with self.lock:
                self.seen.append((time.monotonic(), status, retry))
            time.sleep(0.02)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(TIMEOUT + 5)

    def answers(self) -> list[tuple[float, int, bool]]:
        with self.lock:
            return list(self.seen)

    def first_ok_after(self, t0: float, deadline: float = 60) -> float:
        """Wait until a request sent after T0 is answered 200; return the seconds from T0."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            ok = [t for t, status, _r in self.answers() if t > t0 and status == 200]
            if ok:
                return round(min(ok) - t0, 2)
            time.sleep(0.05)
        return float("inf")


def _wait_running(sup: Supervisor, program: str, old_pid: int, deadline: float = 60) -> float:
    """Wait until PROGRAM runs again under a new pid; return the seconds it took."""
    t0, end = time.monotonic(), time.monotonic() + deadline
    while time.monotonic() < end:
        info = sup.info(program)
        if info and info["statename"] == "RUNNING" and info["pid"] not in (0, old_pid):
            return round(time.monotonic() - t0, 2)
        time.sleep(0.05)
    return float("inf")


def app_kill(config: Config, sessions: list[Session], seconds: float) -> Result:
    """SIGKILL one app server under load: nginx passes its requests to the other one."""
    sup = Supervisor(config.var_dir, config.log_dir)
    program = config.app_instances()[0].name
    pid = sup.pid(program)
    if not pid:
        raise DeployError(f"drill app-kill: {program} is not running here")
    with Load(sessions) as load:
        time.sleep(seconds / 2)
        os.kill(pid, signal.SIGKILL)
        back = _wait_running(sup, program, pid)
        time.sleep(seconds / 2)
    seen = load.answers()
    failed = [status for _t, status, _r in seen if status != 200]
    return Result(
        "app-kill",
        f"SIGKILL {program} (pid {pid}) under {len(sessions)} sessions' GETs of {PAGE}",
        {"failed": len(failed), "recovery_s": back},
        TARGETS["app-kill"],
        len(seen),
        [f"failed answers (0 = no answer): {sorted(failed)}"] if failed else [],
    )


def db_restart(
    config: Config,
    sessions: list[Session],
    seconds: float,
    write: Callable[[int], list[str]],
    still_there: Callable[[list[str]], int],
) -> Result:
    """Stop PostgreSQL under load and start it again: pages answer 503 with Retry-After meanwhile (never
    a 500), come back by themselves, and every row committed before is still there."""
    sup = Supervisor(config.var_dir, config.log_dir)
    if not sup.is_running("db"):
        raise DeployError("drill db-restart: the db role does not run on this machine")
    written = write(5)
    with Load(sessions) as load:
        time.sleep(seconds / 3)
        down_at = time.monotonic()
        sup.stop("db")
        time.sleep(seconds / 3)
        sup.start("db")
        up_at = time.monotonic()
        recovery = load.first_ok_after(up_at)
        time.sleep(seconds / 3)
    seen = load.answers()
    failed = sum(1 for _t, status, retry in seen if status != 200 and not (status == 503 and retry))
    # A 503 only while the database was down, or in the moment after (connections being made again).
    unexplained = sum(
        1 for t, status, _r in seen if status == 503 and not (down_at <= t <= up_at + max(recovery, 0) + 1)
    )
    lost = len(written) - still_there(written)
    return Result(
        "db-restart",
        f"stop PostgreSQL for {seconds / 3:.0f} s, start it, under {len(sessions)} sessions' GETs of {PAGE}",
        {
            "failed": failed,
            "unexplained_503": unexplained,
            "recovery_s": recovery,
            "lost_rows": lost,
            "answered_503": sum(1 for _t, status, _r in seen if status == 503),
        },
        TARGETS["db-restart"],
        len(seen),
    )


def domain_down(config: Config, sessions: list[Session], seconds: float, login: tuple[str, str]) -> Result:
    """Stop the directory: a new login is refused at once with a 503 that says why; people already
    logged in go on working."""
    sup = Supervisor(config.var_dir, config.log_dir)
    if not config.enabled("domain") or not sup.is_running("domain"):
        raise DeployError("drill domain-down: the domain role does not run on this machine")
    with Load(sessions) as load:
        sup.stop("domain")
        try:
            t0 = time.monotonic()
            status = Session(config).login(*login)
            refusal = round(time.monotonic() - t0, 2)
            time.sleep(seconds)
        finally:
            sup.start("domain")
    seen = load.answers()
    return Result(
        "domain-down",
        f"stop slapd for {seconds:.0f} s; one new login; {len(sessions)} sessions' GETs of {PAGE}",
        {
            "failed": sum(1 for _t, s, _r in seen if s != 200),
            "login_refusal_s": refusal,
            "login_not_503": int(status != 503),
        },
        TARGETS["domain-down"],
        len(seen),
    )


def comms_down(
    config: Config, send: Callable[[int], list[str]], seconds: float, deadline: float = 180
) -> Result:
    """Stop the mail server, queue notifications (new messages to a person with an address), start it:
    each is mailed exactly once, after it came back."""
    from strata.deploy.roles.comms.outbox import list_outbox

    sup = Supervisor(config.var_dir, config.log_dir)
    if not config.enabled("comms") or not sup.is_running("comms"):
        raise DeployError("drill comms-down: the comms role does not run on this machine")
    if config.roles["comms"]["relay_host"]:
        raise DeployError(
            "drill comms-down: mail leaves through a relay, so its delivery cannot be seen here"
        )

    def counts(subjects: list[str]) -> dict[str, int]:
        mailed = [m.subject for m in list_outbox(config.var_dir)]
        return {s: sum(1 for m in mailed if s in m) for s in subjects}

    sup.stop("comms")
    try:
        subjects = send(MAILS)
        time.sleep(seconds)
        while_down = sum(counts(subjects).values())
    finally:
        sup.start("comms")
    up_at, end = time.monotonic(), time.monotonic() + deadline
    found = counts(subjects)
    while min(found.values()) < 1 and time.monotonic() < end:
        time.sleep(0.5)
        found = counts(subjects)
    delivered_after = round(time.monotonic() - up_at, 1) if min(found.values()) >= 1 else float("inf")
    time.sleep(3)  # a late second delivery would show now
    found = counts(subjects)
    return Result(
        "comms-down",
        f"stop Postfix, send {MAILS} messages (each mailed to its recipient), wait {seconds:.0f} s, start it",
        {
            "lost": sum(1 for n in found.values() if n == 0),
            "duplicated": sum(1 for n in found.values() if n > 1),
            "sent_while_down": while_down,
            "delivered_after_s": delivered_after,
        },
        TARGETS["comms-down"],
        MAILS,
    )


def files_down(config: Config, session: Session, seconds: float, deadline: float = 60) -> Result:
    """Stop the file server, upload (the single-request PUT people's scripts and `curl -T` use): each
    answer is a clean 503 with a message and leaves no row; after it is back, uploads work again."""
    sup = Supervisor(config.var_dir, config.log_dir)
    programs = sorted(p for p in sup.running_programs() if p == "files" or p.startswith("files-"))
    if not config.enabled("files") or not programs:
        raise DeployError("drill files-down: the files role does not run on this machine")
    tag = os.urandom(4).hex()

    def upload(name: str) -> tuple[int, str]:
        return session.put(f"/api/files/uploads/put?name={name}", f"drill {name}\n".encode())

    for p in programs:
        sup.stop(p)
    try:
        down = [upload(f"drill-{tag}-down-{i}.txt") for i in range(UPLOADS)]
        time.sleep(seconds)
    finally:
        for p in programs:
            sup.start(p)
    up_at, end, recovery = time.monotonic(), time.monotonic() + deadline, float("inf")
    while time.monotonic() < end:
        if upload(f"drill-{tag}-up-0.txt")[0] == 201:
            recovery = round(time.monotonic() - up_at, 2)
            break
        time.sleep(0.5)
    after = [upload(f"drill-{tag}-up-{i}.txt")[0] for i in range(1, UPLOADS)]
    status, _h, body = session.request(f"/api/files/search?q=drill-{tag}")
    if status != 200:
        raise DeployError(f"drill files-down: listing the drill's files answered {status}")
    names = {f["name"] for f in json.loads(body)["files"]}
    return Result(
        "files-down",
        f"stop {', '.join(programs)}, {UPLOADS} uploads, wait {seconds:.0f} s, start, {UPLOADS} uploads",
        {
            "unclean_errors": sum(1 for status, text in down if status != 503 or "unavailable" not in text),
            "orphan_rows": sum(1 for n in names if "-down-" in n),
            "missing_rows": sum(1 for i in range(UPLOADS) if f"drill-{tag}-up-{i}.txt" not in names),
            "recovery_s": recovery,
            "failed_after": sum(1 for status in after if status != 201),
        },
        TARGETS["files-down"],
        2 * UPLOADS,
    )


@dataclass
class Backups:
    """How the backup-restore drill reaches what HTTP does not, on a host that may: STRATA runs the `strata`
    CLI there (with the S3 admin keys `strata restore` needs) and returns the finished process; OBJECTS
    answers strata.deploy.drill_objects' requests (op, args)."""

    strata: Callable[..., subprocess.CompletedProcess]
    objects: Callable[[str, list[str]], dict]


def _cli_ok(proc: subprocess.CompletedProcess, what: str, codes: tuple[int, ...] = (0,)) -> str:
    if proc.returncode not in codes:
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").splitlines()
        raise DeployError(
            f"drill backup-restore: `strata {what}` failed: {lines[-1].removeprefix('strata: ')}"
        )
    return proc.stdout


def _upload_drill_files(session: Session, tag: str) -> dict[str, str]:
    """Upload BACKUP_FILES random files of different sizes; return each name's sha256."""
    uploaded = {}
    for i in range(BACKUP_FILES):
        data = os.urandom(BACKUP_FILE_BYTES + i)
        name = f"drill-{tag}-backup-{i}.bin"
        status, body = session.put(f"/api/files/uploads/put?name={name}", data)
        if status != 201:
            raise DeployError(f"drill backup-restore: uploading {name} answered {status}: {body[:200]}")
        uploaded[name] = hashlib.sha256(data).hexdigest()
    return uploaded


def _listed(session: Session, tag: str) -> dict[str, str | None]:
    """Return the drill's files the site lists, with the sha256 each row records."""
    status, _h, body = session.request(f"/api/files/search?q=drill-{tag}")
    if status != 200:
        raise DeployError(f"drill backup-restore: listing the drill's files answered {status}")
    return {f["name"]: f.get("sha256") for f in json.loads(body)["files"]}


def backup_restore(
    config: Config,
    session: Session,
    login: tuple[str, str],
    write: Callable[[int], list[str]],
    still_there: Callable[[list[str]], int],
    backups: Backups,
) -> Result:
    """Write rows and files, `strata backup`, wipe (every row of the database, and the drill's objects on
    the file server), `strata restore` the backup: the rows and the bytes (by sha256) are all back."""
    if not config.enabled("files"):
        raise DeployError(
            "drill backup-restore: backups are kept on the file server, and the files role is off"
        )
    tag = os.urandom(4).hex()
    written = write(BACKUP_ROWS)
    uploaded = _upload_drill_files(session, tag)
    t0 = time.monotonic()
    # Exit 1: finished, but objects already missing on the file server (listed; not the drill's).
    made = _cli_ok(backups.strata("backup"), "backup", (0, 1))
    backup_s = round(time.monotonic() - t0, 2)
    found = re.search(r"^backup (\S+):", made, re.M)
    if not found:
        raise DeployError(f"drill backup-restore: `strata backup` named no backup: {made.strip()[:200]}")
    backup_id = found.group(1)
    manifest = backups.objects("manifest", [backup_id])
    by_sha = {o["sha256"]: o["key"] for o in manifest["objects"]}
    keys = {by_sha[sha]: sha for sha in uploaded.values() if sha in by_sha}
    # The wipe: the database's rows (Django's flush empties every table), then the drill's objects.
    _cli_ok(backups.strata("manage", "flush", "--no-input"), "manage flush")
    backups.objects("delete", list(keys))
    survived = sum(1 for sha in backups.objects("sha256", list(keys)).values() if sha is not None)
    t1 = time.monotonic()
    _cli_ok(backups.strata("restore", backup_id, "--force"), f"restore {backup_id} --force")
    restore_s = round(time.monotonic() - t1, 2)
    stored = backups.objects("sha256", list(keys))
    if session.login(*login) != 200:
        raise DeployError("drill backup-restore: the drill's account could not log in after the restore")
    listed = _listed(session, tag)
    return Result(
        "backup-restore",
        f"write {BACKUP_ROWS} messages and {BACKUP_FILES} files, `strata backup` {backup_id}, wipe (flush "
        "the database, delete the drill's objects), `strata restore --force`, compare",
        {
            "mismatches": sum(1 for key, sha in keys.items() if stored.get(key) not in (None, sha))
            + sum(1 for name, sha in uploaded.items() if listed.get(name, sha) != sha),
            "lost": len(written)
            - still_there(written)
            + sum(1 for name in uploaded if name not in listed)
            + (len(uploaded) - len(keys))  # not in the backup's manifest at all
            + sum(1 for key in keys if stored.get(key) is None),
            "survived_wipe": survived,
            "backup_s": backup_s,
            "restore_s": restore_s,
            "dump_bytes": manifest["database"]["size"],
            "objects": len(manifest["objects"]),
            "objects_bytes": sum(o["size"] for o in manifest["objects"]),
        },
        TARGETS["backup-restore"],
        BACKUP_ROWS + BACKUP_FILES,
    )


class Uploads:
    """One session uploading small files (the single-request PUT) until stopped; each answer is kept with
    the name and the sha256 of what was sent."""

    def __init__(self, session: Session, tag: str):
        self.session, self.tag = session, tag
        self.stop_event = threading.Event()
        self.sent: list[tuple[str, int, str]] = []  # (name, status or 0, sha256)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.is_set() and len(self.sent) < UPGRADE_UPLOADS:
            data = os.urandom(32 * 1024 + len(self.sent))
            name = f"drill-{self.tag}-upgrade-{len(self.sent)}.bin"
            try:
                status, _b = self.session.put(f"/api/files/uploads/put?name={name}", data)
            except (OSError, urllib.error.URLError):
                status = 0
            self.sent.append((name, status, hashlib.sha256(data).hexdigest()))
            self.stop_event.wait(UPGRADE_UPLOAD_PAUSE)

    def __enter__(self) -> Uploads:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join(TIMEOUT + 5)

    def lost(self) -> int:
        """Return how many uploads answered 201 are not listed with the bytes that were sent."""
        status, _h, body = self.session.request(f"/api/files/search?q=drill-{self.tag}-upgrade")
        if status != 200:
            raise DeployError(f"drill upgrade: listing the uploaded files answered {status}")
        listed = {f["name"]: f.get("sha256") for f in json.loads(body)["files"]}
        return sum(1 for name, code, sha in self.sent if code == 201 and listed.get(name) != sha)


def upgrade(
    config: Config, sessions: list[Session], seconds: float, roll: Callable[[], UpgradeResult] | None = None
) -> Result:
    """Run `strata upgrade` (or ROLL: the lab's, from its control) under load, GETs and uploads: each app
    server leaves nginx's pool, restarts on the release site.code_dir names (the same one is fine) and
    comes back; not one request may fail, and every upload is kept with its bytes."""
    from strata.deploy.upgrade import MigrationRefused
    from strata.deploy.upgrade import upgrade as rolling_upgrade

    with Load(sessions) as load, Uploads(sessions[-1], f"{time.time_ns():x}") as uploads:
        time.sleep(seconds / 2)
        t0 = time.monotonic()
        try:
            done = roll() if roll else rolling_upgrade(config.path)
        except MigrationRefused as exc:
            raise DeployError(f"drill upgrade: refused, nothing changed: {exc}") from None
        duration = round(time.monotonic() - t0, 2)
        time.sleep(seconds / 2)
    seen = load.answers()
    failed = [status for _t, status, _r in seen if status != 200]
    failed += [status for _n, status, _s in uploads.sent if status != 201]
    out = ", ".join(f"{k} {v}s" for k, v in done.drained_s.items())
    return Result(
        "upgrade",
        f"strata upgrade ({len(done.migrations)} migration(s); restarted {', '.join(done.restarted)}; out of "
        f"the pool: {out}) under {len(sessions)} sessions' GETs of {PAGE} and {len(uploads.sent)} uploads",
        {"failed": len(failed), "lost_uploads": uploads.lost(), "duration_s": duration},
        TARGETS["upgrade"],
        len(seen) + len(uploads.sent),
        [f"failed answers (0 = no answer): {sorted(failed)}"] if failed else [],
    )


def write_report(results: list[Result], where: Path) -> Path:
    """Write WHERE/drill-<time>.md and append one JSON line for the run to WHERE/history.jsonl."""
    where.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    lines = [
        f"# Fault drills, {stamp}",
        "",
        "| drill | what was done | requests | measured | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        measured = ", ".join(f"{k} {v}" for k, v in r.measured.items())
        target = ", ".join(f"{k} <= {v:g}" for k, v in r.targets.items())
        verdict = "pass" if r.passed else "FAIL"
        lines.append(f"| {r.drill} | {r.did} | {r.requests} | {measured} | {target} | {verdict} |")
    report = where / f"drill-{stamp}.md"
    report.write_text("\n".join(lines) + "\n")
    with (where / "history.jsonl").open("a") as fh:
        record = {"at": stamp, "results": [{**asdict(r), "passed": r.passed} for r in results]}
        fh.write(json.dumps(record) + "\n")
    return report


def check_names(names: list[str]) -> list[str]:
    """Return the drills NAMES asks for (`all`: every one), or raise naming the unknown one."""
    if names == ["all"]:
        return list(DRILLS)
    for name in names:
        if name not in DRILLS:
            raise ValueError(f"unknown drill {name!r}: choose from {', '.join(DRILLS)} or all")
    return names
