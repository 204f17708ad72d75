"""Benchmark the download path (P2) in the lab, where web -> files crosses hosts over verified HTTPS.

The lab of bench.internal_tls (web, app, db, comms, files: one network namespace each). One 256 MiB
file is uploaded the way people do (a single PUT through nginx and the app). Then, alternating, ROUNDS
times each, with curl:
- "app URL": from outside the lab (the root namespace) through nginx, as a browser does: the app checks
  permission and redirects to a signed URL on the content host (content.localhost, reached at the web
  host's address); there the app checks the signature and answers X-Accel-Redirect, and nginx fetches the
  bytes from the files host over HTTPS (proxy_ssl_verify on);
- "direct S3": from the web host's namespace, a presigned HTTPS GET of the same object straight from the
  files host (what nginx fetches, without nginx, the app or the client-side TLS).
The ratio is app URL / direct S3 (medians). S3 speaks only HTTPS (every topology), so there is no plain
web -> files path to compare with in the lab; bench/reports/files.md has the one-machine figures.

Run as root: .venv/bin/python -m bench.lab_download   (writes bench/reports/lab_download.md)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path

from bench import in_site, internal_tls
from bench.files import cookie_file
from strata.deploy.lab import run as labrun
from tests.support.client import Client
from tests.support.stack import CALL_BOOTSTRAP, CALL_ENV, REPO, call_result, call_spec, make_root

REPORT = Path(__file__).parent / "reports" / "lab_download.md"
MiB = 1024 * 1024
SIZE_MIB = 256
ROUNDS = 5
PRESIGN = """
import json, sys
from strata.deploy import config as cfgmod
from strata.deploy.roles.files import client as s3
config = cfgmod.load()
secrets = json.loads(sys.stdin.read())
c = s3.app_client(config, secrets, timeout=30)
bucket = config.roles["files"]["bucket"]
key = max(c.list_objects_v2(Bucket=bucket)["Contents"], key=lambda o: o["Size"])["Key"]
print(c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900))
"""


def curl(argv: list[str]) -> float:
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600).stdout
    return float(out) / MiB


def measure() -> dict:
    root = make_root("strata-bench-lab-dl-")
    try:
        # The lab of bench.internal_tls (each role on its own host, one app host) without the directory:
        # the benchmark's person is a local account.
        (root / "strata.toml").write_text(internal_tls.topology_text(True))
        lab = labrun.up(root / "lab", root / "strata.toml")
        config = lab.config()
        app1, web = config.hosts_of("app")[0].name, config.hosts_of("web")[0]
        os.environ[CALL_ENV] = json.dumps(
            call_spec(in_site.folder_of_files, ("bench", "bench-pass-2026", 0), {})
        )
        os.environ["PYTHONPATH"] = str(REPO)
        call_result(lab.strata(app1, "manage", "shell", "-c", CALL_BOOTSTRAP).stdout)
        url = f"https://{web.address}:{config.roles['web']['https_port']}"
        client = Client(url, lab.ca())
        client.login("bench", "bench-pass-2026")
        # Host-only, as the site sets them: curl sends them to the site, not to the content host.
        cookies = cookie_file(client, root / "cookies.txt")
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
        port = config.roles["web"]["https_port"]
        to_web = ["--location", "--connect-to", f"content.localhost:{port}:{web.address}:{port}"]
        data = root / "big.bin"
        with data.open("wb") as fh:
            block = os.urandom(MiB)
            for _ in range(SIZE_MIB):
                fh.write(block)
        put = subprocess.run(
            ["curl", "-sS", "--fail", "--cacert", str(lab.ca()), "-b", cookie, "-T", str(data)]
            + ["-H", f"X-CSRFToken: {client.cookie('csrftoken')}", "-H", f"Origin: {url}"]
            + ["-H", f"Referer: {url}/files/", f"{url}/api/files/uploads/put?name=big.bin"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        file_id = json.loads(put.stdout)["id"]
        with (lab.shared / "secrets.toml").open("rb") as fh:
            secrets = tomllib.load(fh)
        presigned = lab.run_in(
            web.name,
            [sys.executable, "-c", PRESIGN],
            input=json.dumps({k: v for k, v in secrets.items() if k.startswith("s3_app_")}),
            timeout=120,
        ).stdout.strip()
        app_url, direct = [], []
        for _ in range(ROUNDS):
            app_url.append(
                curl(
                    ["curl", "-sS", "--fail", "--http1.1", "--cacert", str(lab.ca()), "-b", str(cookies)]
                    + to_web
                    + ["-o", "/dev/null", "-w", "%{speed_download}", f"{url}/files/file/{file_id}/download"]
                )
            )
            proc = lab.run_in(
                web.name,
                ["curl", "-sS", "--fail", "--http1.1", "--cacert", str(lab.ca()), "-o", "/dev/null"]
                + ["-w", "%{speed_download}", presigned],
                timeout=600,
            )
            direct.append(float(proc.stdout) / MiB)
        return {"app": app_url, "direct": direct}
    finally:
        labrun.down(root / "lab")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    r = measure()
    app, direct = statistics.median(r["app"]), statistics.median(r["direct"])
    lines = [
        "# Downloads in the lab (P2): web -> files across hosts over verified HTTPS",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, "
        f"shared), `python -m bench.lab_download`: a {SIZE_MIB} MiB file, {ROUNDS} rounds each, alternating, "
        "curl, MiB/s.",
        "",
        "| path | median MiB/s | rounds |",
        "|---|---|---|",
        f"| app URL from outside (client TLS, nginx, X-Accel-Redirect, HTTPS to files) | {app:.0f} | "
        + ", ".join(f"{v:.0f}" for v in r["app"])
        + " |",
        f"| presigned HTTPS GET from the web host straight to files | {direct:.0f} | "
        + ", ".join(f"{v:.0f}" for v in r["direct"])
        + " |",
        "",
        f"App URL / direct S3 over HTTPS: {app / direct:.2f}.",
    ]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
