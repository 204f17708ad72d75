"""Benchmark the files data paths side by side in one run (P2 downloads, P3 uploads).

P2: a 256 MiB download through the app URL as a browser does it (the site's permission check answers a
    redirect to the content host; there nginx -> app checks the signed URL -> X-Accel-Redirect -> nginx
    streams from SeaweedFS) vs a presigned GET of the same object through the same nginx config over HTTPS
    (a second nginx started from a copy of the rendered config whose S3 location is made public).
    Also: CPU seconds the app servers spent during the app-URL transfers. `python -m bench.files p2` runs
    only this part (report: bench/reports/content_download.md).
P3: a 1 GiB upload through the app (the resumable API, parts streamed nginx -> app -> S3 multipart) vs a
    boto3 multipart upload straight to SeaweedFS, same part size and concurrency. Also: the app workers'
    peak RSS after a 256 MiB and after a 1 GiB upload (each on freshly restarted app servers).

Run as root: .venv/bin/python -m bench.files [p2]   (writes bench/reports/files.md)
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from strata.deploy.roles.app.role import ROLE as APP
from strata.deploy.roles.files import client as s3
from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client
from tests.support.stack import descendants, free_ports, running_stack

REPORT = Path(__file__).parent / "reports" / "files.md"
P2_REPORT = Path(__file__).parent / "reports" / "content_download.md"
MiB = 1024 * 1024
CONCURRENCY = 4
ROUNDS = 5


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as fh:
        for _ in range(size // MiB):
            fh.write(block)


def app_pids(stack) -> list[int]:
    sup = Supervisor(stack.config.var_dir)
    out = []
    for inst in stack.config.app_instances():
        out += sorted(descendants(sup.pid(inst.name)))
    return out


def cpu_seconds(pids) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def peak_rss_mib(pids) -> float:
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024


def cookie_file(client: Client, path: Path) -> Path:
    """Write CLIENT's cookies to PATH as curl's cookie file, host-only as the site sets them (curl then
    sends them to the site only, not to the content host, as a browser does)."""
    host = urllib.parse.urlsplit(client.base).hostname
    lines = ["# Netscape HTTP Cookie File"]
    lines += [f"{host}\tFALSE\t/\tTRUE\t0\t{c.name}\t{c.value}" for c in client.jar]
    path.write_text("\n".join(lines) + "\n")
    return path


def curl_timed(url: str, cafile: Path, cookies: Path | None = None) -> dict[str, float]:
    """Download URL with curl (redirects followed, *.localhost on loopback as curl does); return MiB/s over
    the whole transfer, the redirect included ("mibps"), when the first byte came ("first_ms") and the
    MiB/s from then on ("rate")."""
    cmd = ["curl", "-sS", "--fail", "--location", "--cacert", str(cafile), "-o", "/dev/null"]
    cmd += ["-w", "%{size_download} %{time_starttransfer} %{time_total}", "--http1.1", url]
    if cookies:
        cmd[1:1] = ["-b", str(cookies)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout
    size, first, total = (float(v) for v in out.split())
    return {
        "mibps": size / total / MiB,
        "first_ms": first * 1000,
        "rate": size / max(total - first, 1e-6) / MiB,
    }


def curl_mibps(url: str, cafile: Path, cookies: Path | None = None) -> float:
    """MiB/s of a download of URL over the whole transfer, the redirect included (curl_timed)."""
    return curl_timed(url, cafile, cookies)["mibps"]


class Uploader:
    """The resumable-upload API from a client's side: parts in parallel over HTTPS."""

    def __init__(self, stack, client: Client):
        u = urllib.parse.urlsplit(stack.url)
        self.host, self.port, self.ca = u.hostname, u.port, str(stack.ca)
        self.headers = {
            "Cookie": "; ".join(f"{c.name}={c.value}" for c in client.jar),
            "X-CSRFToken": client.cookie("csrftoken"),
            "Origin": stack.url,
            "Referer": stack.url + "/files/",
        }

    def request(self, method, path, body=b"", extra=None):
        conn = http.client.HTTPSConnection(
            self.host, self.port, timeout=600, context=ssl.create_default_context(cafile=self.ca)
        )
        try:
            conn.request(method, path, body=body, headers={**self.headers, **(extra or {})})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:200]!r}")
        return json.loads(data) if data else {}

    def upload(self, path: Path, name: str) -> dict:
        size = path.stat().st_size
        up = self.request(
            "POST",
            "/api/files/uploads/",
            json.dumps({"name": name, "size": size}).encode(),
            {"Content-Type": "application/json"},
        )
        ps = up["part_size"]

        def send(n):
            with open(path, "rb") as fh:
                fh.seek((n - 1) * ps)
                data = fh.read(ps)
            self.request("PUT", f"/api/files/uploads/{up['id']}/parts/{n}", data)

        with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, range(1, up["parts"] + 1)))
        return self.request("POST", f"/api/files/uploads/{up['id']}/complete")


def public_s3_nginx(stack, root: Path) -> tuple[subprocess.Popen, int]:
    """Start a second nginx from a copy of the rendered config, its S3 location made public."""
    conf = (stack.config.var_dir / "etc" / "web" / "nginx.conf").read_text()
    web = stack.config.roles["web"]
    http_port, https_port = free_ports(1, 1)
    run = root / "bench-nginx"
    for d in ("tmp/client_body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "log"):
        (run / d).mkdir(parents=True, exist_ok=True)
    shutil.chown(run / "tmp" / "proxy", "www-data")
    old_run = str(stack.config.var_dir / "run" / "web")
    old_log = str(stack.config.var_dir / "log" / "web")
    conf = conf.replace(old_run, str(run)).replace(old_log, str(run / "log"))
    conf = conf.replace(f":{web['https_port']} ssl", f":{https_port} ssl").replace(
        f":{web['http_port']};", f":{http_port};"
    )
    # In the content host's server block: the same TLS, headers and proxy settings as a download's bytes.
    conf = re.sub(r"(location \^~ /_files_s3/ \{\s*)internal;", r"\1", conf)
    (run / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [
            "/usr/sbin/nginx",
            "-p",
            str(run),
            "-c",
            str(run / "nginx.conf"),
            "-e",
            str(run / "log" / "error.log"),
        ]
    )
    time.sleep(1)
    return proc, https_port


def p2_speeds(stack, tmp: Path, uploader: Uploader, cookies: Path) -> dict[str, Any]:
    """Download a 256 MiB file through the app URL (redirect, then the bytes from the content host) and as
    a presigned GET through the same nginx, alternating, ROUNDS each; return MiB/s of each ("app",
    "direct") and the app servers' CPU seconds of each app-URL download ("cpu")."""
    src = tmp / "256.bin"
    make_file(src, 256 * MiB)
    f = uploader.upload(src, "download-256.bin")
    key = stack.call(in_site.file_key, f["id"])
    content_host = urllib.parse.urlsplit(stack.call(in_site.setting, "STRATA_CONTENT_ORIGIN")).hostname
    proc, bench_port = public_s3_nginx(stack, tmp)
    try:
        app_speeds, direct_speeds, cpu = [], [], []
        timings: dict[str, list[dict[str, float]]] = {"app": [], "direct": []}
        app_url = f"{stack.url}/api/files/files/{f['id']}/content"
        for i in range(ROUNDS):
            presigned = s3.app_client(stack.config, stack.secrets).generate_presigned_url(
                "get_object",
                Params={"Bucket": stack.config.roles["files"]["bucket"], "Key": key},
                ExpiresIn=300,
            )
            parts = urllib.parse.urlsplit(presigned)
            direct_url = f"https://{content_host}:{bench_port}/_files_s3{parts.path}?{parts.query}"
            # Alternate which goes first, so warm caches favour neither.
            for which in ("app", "direct") if i % 2 == 0 else ("direct", "app"):
                if which == "app":
                    before = cpu_seconds(app_pids(stack))
                    timings["app"].append(curl_timed(app_url, stack.ca, cookies))
                    app_speeds.append(timings["app"][-1]["mibps"])
                    cpu.append(cpu_seconds(app_pids(stack)) - before)
                else:
                    timings["direct"].append(curl_timed(direct_url, stack.ca))
                    direct_speeds.append(timings["direct"][-1]["mibps"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"app": app_speeds, "direct": direct_speeds, "cpu": cpu, "timings": timings}


def measure_p2(stack, tmp: Path, uploader: Uploader, cookies: Path) -> list[tuple[str, str, str]]:
    """Return P2's rows (p2_speeds, formatted)."""
    r = p2_speeds(stack, tmp, uploader, cookies)
    app_speeds, direct_speeds, cpu = r["app"], r["direct"], r["cpu"]
    app_mibps, direct_mibps = statistics.median(app_speeds), statistics.median(direct_speeds)
    return [
        (
            "P2 download 256 MiB via the app URL (HTTPS: the site's redirect, the content host, X-Accel)",
            f"{app_mibps:.0f} MiB/s",
            "runs: " + ", ".join(f"{v:.0f}" for v in app_speeds),
        ),
        (
            "P2 presigned GET through the same nginx config (HTTPS, the content host's block)",
            f"{direct_mibps:.0f} MiB/s",
            "runs: " + ", ".join(f"{v:.0f}" for v in direct_speeds),
        ),
        ("P2 ratio app / presigned", f"{app_mibps / direct_mibps:.2f}×", "≥ 0.95×"),
        ("P2 app servers' CPU per 256 MiB download", f"{statistics.median(cpu) * 1000:.0f} ms", "≈ 0"),
    ]


def write_report(path: Path, rows: list[tuple[str, str, str]], title: str, command: str, what: str) -> None:
    lines = [
        f"# {title}",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores), "
        f"`python -m {command}`; medians of {ROUNDS} downloads{what}, client and servers on one machine.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    path.write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    only_p2 = sys.argv[1:] == ["p2"]
    extra = '\n[roles.files]\nhosts = ["local"]\nport = {}\ninternal_port = {}\n'.format(*free_ports(1, 9))
    rows = []
    with (
        running_stack("strata-bench-files-", extra=extra) as stack,
        tempfile.TemporaryDirectory(prefix="strata-bench-data-") as tmp,
    ):
        tmp = Path(tmp)
        stack.call(in_site.save_person, "bench", "bench-pass-2026")
        client = Client(stack.url, stack.ca)
        client.login("bench", "bench-pass-2026")
        cookies = cookie_file(client, tmp / "cookies.txt")
        uploader = Uploader(stack, client)
        sup = Supervisor(stack.config.var_dir)

        rows += measure_p2(stack, tmp, uploader, cookies)
        if only_p2:
            write_report(P2_REPORT, rows, "P2 downloads through the content host", "bench.files p2", "")
            return

        # --- P3: uploads -----------------------------------------------------------------------------
        big = tmp / "1g.bin"
        make_file(big, 1024 * MiB)
        part = stack.config.roles["files"]["part_mb"] * MiB
        boto = s3.app_client(stack.config, stack.secrets)
        cfg = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=CONCURRENCY)
        app_t, boto_t = [], []
        for i in range(2):
            t0 = time.monotonic()
            boto.upload_file(str(big), stack.config.roles["files"]["bucket"], f"bench-direct-{i}", Config=cfg)
            boto_t.append(time.monotonic() - t0)
            t0 = time.monotonic()
            uploader.upload(big, f"upload-1g-{i}.bin")
            app_t.append(time.monotonic() - t0)
        app_up, boto_up = 1024 / statistics.median(app_t), 1024 / statistics.median(boto_t)
        rss = {}
        for label, path in (("256 MiB", tmp / "256.bin"), ("1 GiB", big)):
            for inst in stack.config.app_instances():
                sup.stop(inst.name)
                sup.start(inst.name)
            APP.wait_ready(stack.ctx())
            uploader.upload(path, f"rss-{label}.bin")
            rss[label] = peak_rss_mib(app_pids(stack))
        rows += [
            ("P3 upload 1 GiB through the app (resumable API, 4 parts in flight)", f"{app_up:.0f} MiB/s", ""),
            ("P3 boto3 multipart upload to SeaweedFS (same parts, 4 threads)", f"{boto_up:.0f} MiB/s", ""),
            ("P3 ratio app / boto3", f"{app_up / boto_up:.2f}×", "≥ 0.8×"),
            ("P3 app worker peak RSS after a 256 MiB upload", f"{rss['256 MiB']:.0f} MiB", "< 150 MB"),
            ("P3 app worker peak RSS after a 1 GiB upload", f"{rss['1 GiB']:.0f} MiB", "< 150 MB, flat"),
        ]
    write_report(REPORT, rows, "Files benchmark (P2 downloads, P3 uploads)", "bench.files", " and 2 uploads")


if __name__ == "__main__":
    main()
