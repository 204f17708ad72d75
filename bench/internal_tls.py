"""Benchmark what TLS between nginx and gunicorn costs on the folder page (P1), in the lab, side by side.

Two labs, one after the other, each with one app host: "TLS" puts the app on its own host (web -> app over
TLS, verified), "plain" puts the app and the mail server on the web host (web -> app on that host, no TLS;
see Config.link_tls). The database, directory and file server are separate hosts in both. wrk from the
root namespace (the outside world) through nginx: 32 connections for 10 s on a 50-file folder page and on
the bare /livez view. The "plain" lab also saves the bridge hop between nginx and gunicorn, so the
difference is an upper bound of TLS's own cost.

Run as root: .venv/bin/python -m bench.internal_tls   (writes bench/reports/internal_tls.md)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
from pathlib import Path

from bench import in_site
from bench.pages import wrk
from strata.deploy.lab import run as labrun
from strata.deploy.lab import topology as labtopology
from tests.support.client import Client
from tests.support.stack import CALL_BOOTSTRAP, CALL_ENV, REPO, call_result, call_spec, make_root

REPORT = Path(__file__).parent / "reports" / "internal_tls.md"
OPTIONS = {"app": {"instances": 2, "workers": 2}}


def topology_text(tls: bool) -> str:
    """Return the lab's topology with one app host; without TLS the app and comms join the web host."""
    text = labtopology.default_topology(labtopology.free_slice(), app_hosts=1, options=OPTIONS)
    # Without the directory: the benchmark's person is a local account (as in bench.pages).
    text = re.sub(r'\[hosts\.domain\]\naddress = "[^"]+"\n\n', "", text)
    text = re.sub(r"\[roles\.domain\]\n(?:[^\[\n].*\n|\n)*", "", text)
    if tls:
        return text
    text = re.sub(r'\[hosts\.(app1|comms)\]\naddress = "[^"]+"\n\n', "", text)
    text = text.replace('[roles.app]\nhosts = ["app1"]', '[roles.app]\nhosts = ["web"]')
    return text.replace('[roles.comms]\nhosts = ["comms"]', '[roles.comms]\nhosts = ["web"]')


def measure(tls: bool) -> dict:
    root = make_root("strata-bench-tls-")
    try:
        (root / "strata.toml").write_text(topology_text(tls))
        lab = labrun.up(root / "lab", root / "strata.toml")
        config = lab.config()
        assert config.tls_into("app") is tls
        app1 = config.hosts_of("app")[0].name
        os.environ[CALL_ENV] = json.dumps(
            call_spec(in_site.folder_of_files, ("bench", "bench-pass-2026", 50), {})
        )
        os.environ["PYTHONPATH"] = str(REPO)
        out = lab.strata(app1, "manage", "shell", "-c", CALL_BOOTSTRAP).stdout
        space_id, folder_id = call_result(out)
        web = config.hosts_of("web")[0]
        url = f"https://{web.address}:{config.roles['web']['https_port']}"
        client = Client(url, lab.ca())
        client.login("bench", "bench-pass-2026")
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
        page = f"/files/space/{space_id}/folder/{folder_id}/"
        assert client.get(page).text.count("report-") >= 50
        return {"folder": wrk(url + page, cookie), "bare": wrk(url + "/livez")}
    finally:
        labrun.down(root / "lab")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    results = {"TLS (app on its own host)": measure(True), "plain (app on the web host)": measure(False)}
    lines = [
        "# nginx -> gunicorn over TLS: the folder page in the lab (P1)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, shared), "
        "`python -m bench.internal_tls`: wrk, 32 connections, 10 s, through nginx from outside the lab.",
        "",
        "| web -> app | folder page req/s | p50 ms | p99 ms | /livez req/s | p50 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        f, b = r["folder"], r["bare"]
        lines.append(
            f"| {label} | {f['rps']:.0f} | {f['p50']:.1f} | {f['p99']:.1f} | {b['rps']:.0f} | {b['p50']:.1f} "
            f"| {f['bad'] + b['bad']} {f['errors']} {b['errors']} |"
        )
    (tls, plain) = results.values()
    lines += [
        "",
        f"Folder page with TLS / without: {tls['folder']['rps'] / plain['folder']['rps']:.2f} "
        "of the requests "
        f"per second (includes the bridge hop the plain lab does not make).",
    ]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
