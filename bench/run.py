"""`make bench`: every benchmark of the BRIEF's P1-P6 on ONE stack, side by side, in under 10 minutes.

One six-role stack (web, app, db, files, comms, domain: what `make up` runs) in a temp dir on free ports;
each benchmark module's own functions measure on it (bench.pages, bench.files, bench.ldap_login,
bench.in_site, bench.stack), sized down so the whole run stays short; as root with the lab's tools, the
lab's cross-host download (bench.lab_download) runs after, on its own namespaces. Writes
bench/reports/latest.md (measured vs target, each figure with what it was measured against in the same
run), appends one JSON line to bench/reports/history.jsonl and draws bench/reports/pages.png and
transfers.png.

Run as root: .venv/bin/python -m bench.run [--no-lab]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench import files as files_bench
from bench import in_site, ldap_login, pages, report, uploads
from bench.report import Figure
from bench.stack import pss_kib
from strata.deploy import local as deploy
from strata.deploy.roles.app.role import ROLE as APP
from strata.deploy.supervisor import Supervisor
from tests.support import in_site as site
from tests.support.client import Client
from tests.support.stack import (
    comms_role_toml,
    descendants,
    domain_role_toml,
    free_ports,
    ok,
    running_stack,
)

REPORTS = Path(__file__).parent / "reports"
USER, PASSWORD = "bench", "bench-pass-2026"
MiB = 1024 * 1024
# Sizes that keep the whole run under 10 minutes on 2 shared cores and the ratios meaningful.
WRK_SECONDS = 4
# Rounds of /livez and the folder page, alternating (the folder page's target is a ratio of the two).
P1_ROUNDS = 3
P2_ROUNDS = 5
P3_SIZE_MIB, P3_ROUNDS = 256, 2
P4_LOGINS, P4_PAGES = 40, 60
LAB_SIZE_MIB, LAB_ROUNDS = 128, 2
console = Console()


def topology() -> str:
    """The six roles on one machine, the files role with its default part size (16 MiB) and the
    directory's sync far beyond the run (no scheduled LDAP traffic in the counters)."""
    s3, internal = free_ports(1, 9)
    files = f'\n[roles.files]\nhosts = ["local"]\nport = {s3}\ninternal_port = {internal}\n'
    return files + comms_role_toml() + domain_role_toml(sync_seconds=86400)


# --- memory -----------------------------------------------------------------------------------------------


def role_of(program: str) -> str:
    """The role a supervisor program belongs to, by its name."""
    for prefix, role in (
        ("files", "files (SeaweedFS)"),
        ("app", "app"),
        ("events", "app"),
        ("tasks", "app"),
        ("worker", "app (task worker)"),
        ("scheduler", "app"),
        ("web", "web"),
        ("db", "db"),
        ("comms", "comms"),
        ("domain", "domain"),
    ):
        if program.startswith(prefix):
            return role
    return program


def pss_by_program(stack) -> dict[str, float]:
    """Sum of PSS (MiB) over each supervisor program's processes, and "total": the whole tree under
    supervisord (supervisord itself included)."""
    sup = Supervisor(stack.config.var_dir)
    out: dict[str, float] = {}
    for name in sorted(sup.running_programs()):
        pid = sup.pid(name)
        if pid:
            out[name] = sum(pss_kib(p) for p in descendants(pid)) / 1024
    daemon = int(sup.pidfile.read_text())
    out["total"] = sum(pss_kib(p) for p in descendants(daemon)) / 1024
    return out


def seaweedfs(memory: dict[str, float]) -> float:
    return sum(v for k, v in memory.items() if role_of(k).startswith("files"))


def warm_up_split(profile: cProfile.Profile, top: int = 12) -> list[str]:
    """The deployer's own functions a warm `up` spent the most time in (cumulative, from cProfile)."""
    stats = pstats.Stats(profile)
    rows = []
    for (path, line, name), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "/strata/deploy/" in path:
            short = path.split("/strata/deploy/", 1)[1]
            rows.append((cumulative, f"`{short}:{line}` {name}", calls))
    rows.sort(reverse=True)
    return [
        "cProfile of the warm `up`, the deployer's functions by cumulative time (nested: a caller's time "
        "includes its callees'):",
        "",
        "| function | calls | seconds |",
        "|---|---|---|",
        *(f"| {name} | {calls} | {cum:.1f} |" for cum, name, calls in rows[:top]),
    ]


# --- the steps ------------------------------------------------------------------------------------------


class Run:
    def __init__(self, stack, tmp: Path):
        self.stack, self.tmp = stack, tmp
        self.figures: list[Figure] = []
        self.sections: dict[str, list[str]] = {}
        self.memory: dict[str, dict[str, float]] = {}

    def add(self, *figs: Figure) -> None:
        self.figures.extend(figs)

    # P6 (first half): warm `up` and idle memory
    def warm_up_and_idle(self) -> None:
        profile = cProfile.Profile()
        t0 = time.monotonic()
        profile.runcall(deploy.up, self.stack.config.path)
        warm = time.monotonic() - t0
        self.sections["P6: where a warm `up` spends its time"] = warm_up_split(profile)
        time.sleep(3)
        self.memory["idle"] = pss_by_program(self.stack)
        self.add(
            Figure("P6.warm_up", "warm `up` (already running)", warm, "s", op="<", target=20),
        )

    def people(self) -> None:
        s = self.stack
        ok(
            s,
            "users",
            "add",
            USER,
            "--first-name",
            "Bench",
            "--last-name",
            "Mark",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        self.space_id, self.folder_id = s.call(in_site.folder_of_files, USER, PASSWORD, 50)
        s.call(site.set_quota, USER, 64 * 1024 * MiB)
        self.token = s.call(site.issue_token_for, USER, "bench")
        self.conversation = s.call(site.start_conversation, USER, s.admin[0], "Bench", "A bench message.")
        self.client = Client(s.url, s.ca)
        self.client.login(USER, PASSWORD)
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.client.jar)

    # P1: pages under wrk, side by side with /livez; the split app alone vs nginx + TLS
    def p1(self) -> None:
        s = self.stack
        pages.SECONDS = WRK_SECONDS
        folder = f"/files/space/{self.space_id}/folder/{self.folder_id}/"
        paths = {
            "folder page, 50 files": folder,
            "directory": "/people/",
            "person": f"/people/{USER}/",
            "inbox": "/messages/",
            "conversation": f"/messages/c/{self.conversation}/",
        }
        for label, path in paths.items():
            resp = self.client.get(path)
            assert resp.status == 200, (label, resp.status)
        # The target's pair side by side in alternating rounds; the other pages once each.
        pair = pages.alternating(
            {
                "/livez": (f"{s.url}/livez", "", ()),
                "folder page, 50 files": (s.url + folder, self.cookie, ()),
            },
            rounds=P1_ROUNDS,
        )
        bare = pair["/livez"]
        results = {
            label: pair[label] if label in pair else pages.wrk(s.url + path, self.cookie)
            for label, path in paths.items()
        }
        inst = s.config.app_instances()[0]
        direct, host = (
            f"http://{inst.host.address}:{inst.port}",
            ("Host: localhost", "X-Forwarded-Proto: https"),
        )
        bare_direct = pages.wrk(f"{direct}/livez", headers=host)
        folder_direct = pages.wrk(direct + folder, self.cookie, headers=host)
        self.add(
            Figure(
                "P1.livez_rps",
                "bare Django view `/livez`",
                bare["rps"],
                "req/s",
                chart="pages_rps",
                extra={"label": "/livez", "p99": bare["p99"]},
            ),
            Figure(
                "P1.livez_p99",
                "`/livez` p99",
                bare["p99"],
                "ms",
                chart="pages_p99",
                extra={"label": "/livez"},
            ),
        )
        for label, r in results.items():
            key = label.split(",")[0].replace(" ", "_")
            is_folder = label.startswith("folder")
            self.add(
                Figure(
                    f"P1.{key}_rps",
                    f"{label}, logged in, req/s",
                    r["rps"],
                    "req/s",
                    against="`/livez` (same stack, same wrk)",
                    base=bare["rps"],
                    op="≥" if is_folder else "",
                    target=0.5 if is_folder else None,
                    chart="pages_rps",
                    note=f"{r['bad']} non-2xx" if r["bad"] else "",
                    extra={"label": label.split(",")[0]},
                ),
                Figure(
                    f"P1.{key}_p99",
                    f"{label}, p99 (p50 {r['p50']:.0f} ms)",
                    r["p99"],
                    "ms",
                    op="<" if is_folder else "",
                    target=50 if is_folder else None,
                    chart="pages_p99",
                    extra={"label": label.split(",")[0]},
                ),
            )
        self.add(
            Figure(
                "P1.folder_direct_rps",
                "folder page straight at one app instance (no nginx, no TLS), req/s",
                folder_direct["rps"],
                "req/s",
                against="`/livez` at the same instance",
                base=bare_direct["rps"],
            ),
        )
        in_app = s.call(in_site.time_session_variants, USER, folder, 30, timeout=600)
        live = in_app["live cache (the site's setting)"]
        livez_app = in_app["/livez (no session, no query)"]
        self.add(
            Figure(
                "P1.folder_app_ms",
                f"folder page, app time of one request (median of 30, {live['queries']} queries)",
                live["median_ms"],
                "ms",
                against="`/livez` app time",
                base=livez_app["median_ms"],
            ),
        )
        fp = results["folder page, 50 files"]
        self.sections["P1: where the time goes"] = [
            f"wrk {pages.CONNECTIONS} connections, {WRK_SECONDS} s per page (`/livez` and the folder page: "
            f"{P1_ROUNDS} rounds each, alternating, medians; req/s of each round: `/livez` "
            f"{bare['runs']}, folder page {fp['runs']}), HTTPS through nginx to "
            f"{len(s.config.app_instances())} app instances.",
            "",
            "| path | folder page req/s | `/livez` req/s | ratio | folder p50 / p99 |",
            "|---|---|---|---|---|",
            f"| client → nginx (TLS) → app | {fp['rps']:.0f} | {bare['rps']:.0f} "
            f"| {fp['rps'] / bare['rps']:.2f}× | {fp['p50']:.0f} / {fp['p99']:.0f} ms |",
            f"| client → one app instance (plain HTTP) | {folder_direct['rps']:.0f} | "
            f"{bare_direct['rps']:.0f} | "
            f"{folder_direct['rps'] / bare_direct['rps']:.2f}× | {folder_direct['p50']:.0f} / "
            f"{folder_direct['p99']:.0f} ms |",
            "",
            "CPU per request by program while wrk ran through nginx (ms; both cores, the whole machine):",
            "",
            "| program | `/livez` | folder page |",
            "|---|---|---|",
            *(f"| {name} | {bare['cpu'][name]:.3f} | {fp['cpu'][name]:.3f} |" for name in fp["cpu"]),
            f"| all | {sum(bare['cpu'].values()):.3f} | {sum(fp['cpu'].values()):.3f} |",
            "",
            f"The rest, during the folder page's run: {fp['rest']}.",
            "",
            "App time of one request in the site's Django (test client, one at a time, 30 requests):",
            "",
            "| how sessions and the user are kept | median | p95 | queries |",
            "|---|---|---|---|",
            *(
                f"| {label} | {r['median_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['queries']} |"
                for label, r in in_app.items()
            ),
        ]

    # P2: download through the app URL vs a presigned GET through the same nginx
    def p2(self) -> None:
        files_bench.ROUNDS = P2_ROUNDS
        cookies = files_bench.cookie_file(self.client, self.tmp / "cookies.txt")
        uploader = files_bench.Uploader(self.stack, self.client)
        r = files_bench.p2_speeds(self.stack, self.tmp, uploader, cookies)
        app, direct = statistics.median(r["app"]), statistics.median(r["direct"])
        self.add(
            Figure(
                "P2.download",
                "download 256 MiB via the app URL (redirect, content host, X-Accel)",
                app,
                "MiB/s",
                against="presigned GET through the same nginx (HTTPS)",
                base=direct,
                op="≥",
                target=0.95,
                chart="transfers",
                extra={"label": "P2 app URL"},
            ),
            Figure(
                "P2.presigned",
                "presigned GET through the same nginx",
                direct,
                "MiB/s",
                chart="transfers",
                extra={"label": "P2 presigned"},
            ),
            Figure(
                "P2.app_cpu",
                "app servers' CPU per 256 MiB download",
                statistics.median(r["cpu"]) * 1000,
                "ms",
            ),
        )
        rounds = r["timings"]
        self.sections["P2: where the time goes"] = [
            f"{P2_ROUNDS} rounds of each, alternating which goes first; curl over HTTP/1.1. The app URL's "
            "first byte comes after the site's redirect and the content host's answer; the rate after it "
            "is the same nginx location streaming the file server's bytes in both.",
            "",
            "| round | app URL MiB/s | first byte | MiB/s after it "
            "| presigned MiB/s | first byte | MiB/s after it |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {n} | {a['mibps']:.0f} | {a['first_ms']:.0f} ms | {a['rate']:.0f} | {d['mibps']:.0f} | "
                f"{d['first_ms']:.0f} ms | {d['rate']:.0f} |"
                for n, (a, d) in enumerate(zip(rounds["app"], rounds["direct"], strict=True), 1)
            ),
        ]

    # P3: single-request upload through the app vs boto3 multipart, one stream, same parts
    def p3(self) -> None:
        s = self.stack
        sup = Supervisor(s.config.var_dir)
        for inst in s.config.app_instances():  # fresh workers: their peak RSS is this step's
            sup.stop(inst.name)
            sup.start(inst.name)
        APP.wait_ready(s.ctx())
        source = self.tmp / "p3.bin"
        uploads.make_file(source, P3_SIZE_MIB * MiB)
        # The site's user reads the file in time_save_stream.
        os.chmod(self.tmp, 0o755)  # noqa: S103
        os.chmod(source, 0o644)
        auth = {"Authorization": f"Bearer {self.token}"}
        inst = s.config.app_instances()[0]
        direct = f"http://{inst.host.address}:{inst.port}"
        times: dict[str, list[float]] = {"app": [], "boto3": [], "direct": []}
        for n in range(P3_ROUNDS):
            order = ["app", "boto3", "direct"] if n % 2 == 0 else ["direct", "boto3", "app"]
            for kind in order:
                if kind == "app":
                    url = f"{s.url}/api/files/uploads/put?name=p3-{n}.bin"
                    times["app"].append(uploads.put_file(url, source, auth, s.ca)[0])
                elif kind == "direct":
                    url = f"{direct}/api/files/uploads/put?name=p3-direct-{n}.bin"
                    hdrs = {**auth, "Host": "localhost", "X-Forwarded-Proto": "https"}
                    times["direct"].append(uploads.put_file(url, source, hdrs)[0])
                else:
                    times["boto3"].append(uploads.boto3_one_stream(s, source, f"bench-p3-{n}"))
        rss = files_bench.peak_rss_mib(files_bench.app_pids(s))
        inner = s.call(in_site.time_save_stream, str(source), 2, timeout=600)
        med = {k: statistics.median(v) for k, v in times.items()}
        save, sha = statistics.median(inner["save_stream"]), statistics.median(inner["sha256"])
        rate = {k: P3_SIZE_MIB / v for k, v in med.items()}
        part_mb = s.config.roles["files"]["part_mb"]
        self.add(
            Figure(
                "P3.upload",
                f"upload {P3_SIZE_MIB} MiB in one request through the app "
                "(`PUT /api/files/uploads/put`, HTTPS)",
                rate["app"],
                "MiB/s",
                against=f"boto3 multipart straight to SeaweedFS ({part_mb} MiB parts, one stream)",
                base=rate["boto3"],
                op="≥",
                target=0.8,
                chart="transfers",
                extra={"label": "P3 app, 1 request"},
            ),
            Figure(
                "P3.boto3",
                f"boto3 multipart, {part_mb} MiB parts, one stream",
                rate["boto3"],
                "MiB/s",
                chart="transfers",
                extra={"label": "P3 boto3 multipart"},
            ),
            Figure(
                "P3.direct",
                "the same PUT straight at one app instance (no nginx, no TLS)",
                rate["direct"],
                "MiB/s",
                against="boto3 multipart",
                base=rate["boto3"],
                chart="transfers",
                extra={"label": "P3 app, no nginx"},
            ),
            Figure(
                "P3.rss",
                f"app worker peak RSS (VmHWM) after {3 * P3_ROUNDS} uploads of {P3_SIZE_MIB} MiB",
                rss,
                "MiB",
                op="<",
                target=143,  # 150 MB
            ),
        )
        rounds = ", ".join(f"{k} " + "/".join(f"{t:.2f}" for t in v) for k, v in times.items())
        self.sections["P3: where the time goes"] = [
            f"One {P3_SIZE_MIB} MiB file, {P3_ROUNDS} rounds alternating the order; medians in seconds "
            f"(every round: {rounds}).",
            "",
            "| path | seconds | MiB/s | step's cost |",
            "|---|---|---|---|",
            "| boto3 multipart straight to SeaweedFS (TLS to the S3 gateway, no hashing) | "
            f"{med['boto3']:.2f} | {rate['boto3']:.0f} | — |",
            "| the app's S3 path alone, in the site's Django: save_stream of the file from disk "
            f"(1 MiB reads, SHA-256, presigned part PUTs over TLS) | {save:.2f} | {P3_SIZE_MIB / save:.0f} | "
            f"{save - med['boto3']:+.2f} s vs boto3 |",
            f"| … of which SHA-256 of the bytes (same process, same blocks) | {sha:.2f} | "
            f"{P3_SIZE_MIB / sha:.0f} | {sha:.2f} s |",
            f"| + the request body from a client through gunicorn (plain HTTP, one app instance) | "
            f"{med['direct']:.2f} | {rate['direct']:.0f} | {med['direct'] - save:+.2f} s |",
            f"| + nginx and the client's TLS (the full path) | {med['app']:.2f} | {rate['app']:.0f} | "
            f"{med['app'] - med['direct']:+.2f} s |",
        ]

    # P4: directory login vs authenticate() alone; LDAP operations per page
    def p4(self) -> None:
        ldap_login.USER, ldap_login.PASSWORD = USER, PASSWORD
        ldap_login.LOGINS, ldap_login.PAGES = P4_LOGINS, P4_PAGES
        nginx = ldap_login.login_through_nginx(self.stack)
        per_login, per_page = ldap_login.operations(self.stack)
        # authenticate() alone sets Django up in this process: it goes after every other in-process step.
        self._p4_pending = (nginx, per_login, per_page)

    def p4_alone(self) -> None:
        nginx, per_login, per_page = self._p4_pending
        alone = ldap_login.authenticate_alone(self.stack)
        self.add(
            Figure(
                "P4.login",
                "directory login, POST /accounts/login/ through nginx (median)",
                statistics.median(nginx),
                "ms",
                against="django-auth-ldap `authenticate()` alone, same slapd",
                base=statistics.median(alone),
                op="≤",
                target=4,
            ),
            Figure(
                "P4.ldap_per_page",
                f"LDAP operations per ordinary page ({P4_PAGES} pages)",
                per_page,
                "",
                op="≤",
                target=0,
            ),
        )

    # P5: the first page of a 100k-file folder
    def p5(self) -> None:
        r = self.stack.call(in_site.time_folder_pages, timeout=900)
        small, big = r["50 files"], r["100,000 files"]
        self.add(
            Figure(
                "P5.folder_100k_ms",
                f"first page of a 100,000-file folder, server time (median of 30, {big['queries']} queries)",
                big["median_ms"],
                "ms",
                against=f"a 50-file folder: {small['median_ms']:.1f} ms, {small['queries']} queries",
                op="<",
                target=50,
            ),
            Figure("P5.queries", "queries for that first page", big["queries"], "", op="≤", target=8),
            Figure(
                "P5.queries_constant",
                "queries, 100,000-file folder / 50-file folder",
                big["queries"],
                "",
                against="the 50-file folder's queries",
                base=small["queries"],
                op="≤",
                target=1,
            ),
        )

    # P6 (second half): memory after every benchmark
    def after(self) -> None:
        time.sleep(2)
        self.memory["after"] = pss_by_program(self.stack)
        idle, after = self.memory["idle"], self.memory["after"]
        self.add(
            Figure("P6.idle", "whole stack idle, sum of PSS", idle["total"], "MiB", op="<", target=572),
            Figure(
                "P6.after",
                "whole stack after the benchmarks, sum of PSS",
                after["total"],
                "MiB",
                against=f"idle: {idle['total']:.0f} MiB",
                op="<",
                target=1430,
            ),
            Figure(
                "P6.seaweedfs",
                "SeaweedFS after the benchmarks (both programs)",
                seaweedfs(after),
                "MiB",
                against=f"idle: {seaweedfs(idle):.0f} MiB",
                op="<",
                target=300,
            ),
        )
        programs = sorted((k for k in after if k != "total"), key=lambda k: (role_of(k), k))
        self.sections["P6: memory per program (sum of PSS over its processes, MiB)"] = [
            "| role | program | idle | after the benchmarks |",
            "|---|---|---|---|",
            *(f"| {role_of(p)} | {p} | {idle.get(p, 0):.0f} | {after[p]:.0f} |" for p in programs),
            f"| | whole stack (supervisord's tree) | {idle['total']:.0f} | {after['total']:.0f} |",
            "",
            "Targets in MB converted to MiB: 600 MB = 572 MiB, 1.5 GB = 1430 MiB, 150 MB = 143 MiB.",
        ]


def lab(run_figures: list[Figure]) -> None:
    """The lab's cross-host download (P2 across hosts), on its own namespaces."""
    from bench import lab_download

    lab_download.SIZE_MIB, lab_download.ROUNDS = LAB_SIZE_MIB, LAB_ROUNDS
    r = lab_download.measure()
    app, direct = statistics.median(r["app"]), statistics.median(r["direct"])
    run_figures += [
        Figure(
            "P2.lab",
            f"lab: download {LAB_SIZE_MIB} MiB via the app URL, web → files across hosts (verified HTTPS)",
            app,
            "MiB/s",
            against="presigned HTTPS GET from the web host straight to files",
            base=direct,
            chart="transfers",
            extra={"label": "P2 lab app URL"},
        ),
        Figure(
            "P2.lab_direct",
            "lab: presigned GET from the web host",
            direct,
            "MiB/s",
            chart="transfers",
            extra={"label": "P2 lab direct"},
        ),
    ]


def can_run_lab() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "unshare", "nsenter"))


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-lab", action="store_true", help="skip the lab's cross-host download")
    args = parser.parse_args()
    started, load_start = time.monotonic(), os.getloadavg()[0]
    when = dt.datetime.now(dt.UTC)
    with_lab = not args.no_lab and can_run_lab()
    failures: list[str] = []
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress, tempfile.TemporaryDirectory(prefix="strata-bench-run-") as tmp_name:
        tmp = Path(tmp_name)
        steps_total = 10 + (1 if with_lab else 0)
        task = progress.add_task("starting the six-role stack", total=steps_total)
        figures: list[Figure] = []
        sections: dict[str, list[str]] = {}
        memory: dict[str, dict[str, float]] = {}
        # The app's workers as `make up` runs them (roles.app.workers = 0: by cores).
        with running_stack("strata-bench-run-", extra=topology(), workers=0) as stack:
            run = Run(stack, tmp)
            progress.advance(task)

            def step(label: str, fn: Callable[[], None]) -> None:
                progress.update(task, description=label)
                t0 = time.monotonic()
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - one failed benchmark must not lose the others
                    failures.append(f"{label}: {type(exc).__name__}: {exc}")
                    console.print(f"[red]{label} failed[/red]")
                    console.print(traceback.format_exc())
                console.log(f"{label}: {time.monotonic() - t0:.0f} s")
                progress.advance(task)

            step("P6 warm up, idle memory", run.warm_up_and_idle)
            step("people, folder, token", run.people)
            step("P1 pages (wrk)", run.p1)
            step("P2 downloads", run.p2)
            step("P3 uploads", run.p3)
            step("P4 directory logins", run.p4)
            step("P5 100k-file folder", run.p5)
            step("P6 memory after", run.after)
            step("P4 authenticate() alone", run.p4_alone)
            figures, sections, memory = run.figures, run.sections, run.memory
            progress.update(task, description="stopping the stack")
        if with_lab:
            progress.update(task, description="lab: cross-host download")
            try:
                lab(figures)
            except Exception as exc:  # noqa: BLE001
                failures.append(f"lab: {type(exc).__name__}: {exc}")
            progress.advance(task)
        progress.update(task, description="report and charts")
        meta = {
            "when": f"{when:%Y-%m-%d %H:%M} UTC",
            "host": platform.node(),
            "cores": os.cpu_count(),
            "load_start": load_start,
            "load_end": os.getloadavg()[0],
            "commit": commit(),
            "seconds": time.monotonic() - started,
            "memory": {k: {r: round(v) for r, v in m.items()} for k, m in memory.items()},
            "failures": failures,
        }
        pngs = report.charts(figures, REPORTS)
        meta["charts"] = [p.name for p in pngs]
        if failures:
            sections["Steps that failed"] = [f"- {f}" for f in failures]
        (REPORTS / "latest.md").write_text(report.markdown(figures, meta, sections))
        with (REPORTS / "history.jsonl").open("a") as fh:
            fh.write(report.history_line(figures, meta) + "\n")
        progress.advance(task)
    console.print((REPORTS / "latest.md").read_text(), markup=False, highlight=False)
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
