"""The lab: each role on its own host (two app hosts), each host in its own network namespace behind the
firewall generated from the connection matrix, started by the same role code as `make up`.

One lab for the module (about 25 s up, 15 s down), always torn down. The tests run in order: the journey
first, then the failures (an app server killed, the directory and the mail server stopped).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import drill
from strata.deploy.lab import check as labcheck
from strata.deploy.lab import run as labrun
from strata.deploy.roles.files.spec import INTERNAL_PORTS, S3_GRPC_OFFSET
from tests.lab import on_host
from tests.support.client import Client, follow, text_of
from tests.support.mail import outbox_to
from tests.support.releases import MARKER, copy_checkout, make_b, point
from tests.support.stack import (
    STDIN_CALL_BOOTSTRAP,
    call_result,
    call_spec,
    make_root,
    require_lab_tools,
)
from tests.support.tls import served_certificate
from tests.support.waits import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.integration]

PASSWORD = "correct horse battery {}"
UNAVAILABLE = "directory is unavailable"


@pytest.fixture(scope="module")
def lab():
    require_lab_tools()
    root = make_root("strata-lab-")
    lab = None
    try:
        start = time.monotonic()
        # One app server per app host, and no scheduled directory sync during the run.
        # The servers run release A (the checkout's code) through a `current` link: the drills' upgrade
        # moves them to B.
        copy_checkout(root / "releases" / "A")
        point(root / "current", root / "releases" / "A")
        lab = labrun.up(
            root / "lab",
            site={"code_dir": str(root / "current")},
            options={
                "app": {"instances": 1, "workers": 2},
                "domain": {"sync_seconds": 86400},
                "files": {"part_mb": 5, "pitr": True},
            },
        )
        print(f"\nlab up in {time.monotonic() - start:.1f}s")
        yield lab
    finally:
        start = time.monotonic()
        problems = labrun.down(root / "lab")
        print(f"\nlab down in {time.monotonic() - start:.1f}s")
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
        shutil.rmtree(root, ignore_errors=True)
        if lab is not None:
            # Nothing of the lab may survive its teardown.
            assert lab.suffix not in names, problems
            assert lab.suffix not in links, problems
            assert not problems, problems


def web_url(lab) -> str:
    config = lab.config()
    return f"https://{config.hosts_of('web')[0].address}:{config.roles['web']['https_port']}"


def client(lab) -> Client:
    c = Client(web_url(lab), lab.ca())
    c.ca = lab.ca()
    return c


def login(lab, username: str, password: str | None = None) -> Client:
    c = client(lab)
    resp = c.login(username, password or PASSWORD.format(username))
    assert "/people/" in resp.url, (resp.status, text_of(resp.text)[:300])
    return c


def in_host(lab, host: str, function: Callable[..., Any], *args: Any) -> Any:
    """Run FUNCTION (of tests.lab.on_host) with ARGS inside HOST's namespace with that host's config,
    secrets and var/ tree; return what it returned, through JSON."""
    spec = json.dumps(call_spec(function, args, {}))
    proc = lab.run_in(host, [sys.executable, "-c", STDIN_CALL_BOOTSTRAP], input=spec, timeout=120)
    return call_result(proc.stdout)


def comms_var(lab) -> Path:
    """Return the var/ tree of the lab host that runs the comms role."""
    return Path(lab.hosts[lab.config().host_of("comms").name].var)


def upload(c: Client, name: str, data: bytes) -> tuple[int, dict]:
    u = urllib.parse.urlsplit(c.base)
    conn = http.client.HTTPSConnection(
        u.hostname, u.port, timeout=60, context=ssl.create_default_context(cafile=str(c.ca))
    )
    headers = {
        "Cookie": "; ".join(f"{k.name}={k.value}" for k in c.jar),
        "X-CSRFToken": c.cookie("csrftoken") or "",
        "Origin": c.base,
        "Referer": c.base + "/files/",
        "Content-Type": "application/octet-stream",
    }
    try:
        conn.request("PUT", "/api/files/uploads/put?" + urllib.parse.urlencode({"name": name}), data, headers)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return resp.status, json.loads(body) if body.startswith(b"{") else {}


def download(c: Client, path: str) -> tuple[int, bytes]:
    u = urllib.parse.urlsplit(c.base)
    conn = http.client.HTTPSConnection(
        u.hostname, u.port, timeout=60, context=ssl.create_default_context(cafile=str(c.ca))
    )
    try:
        conn.request("GET", path, headers={"Cookie": "; ".join(f"{k.name}={k.value}" for k in c.jar)})
        resp = conn.getresponse()
        status, headers, body = resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()
    # The bytes come from the content host (its name leads to the web host's address, as *.localhost
    # does in a browser on one machine), the way a browser follows the redirect.
    followed = follow(status, headers, c.ca, c.address)
    return (followed[0], followed[2]) if followed else (status, body)


@pytest.fixture(scope="module")
def people(lab):
    """Alice and Bob in the directory, added by the CLI on the first app host (app -> domain)."""
    app1 = lab.config().hosts_of("app")[0].name
    for name in ("alice", "bob"):
        lab.strata(
            app1,
            "users",
            "add",
            name,
            "--password-stdin",
            "--first-name",
            name.title(),
            "--email",
            f"{name}@example.org",
            input=PASSWORD.format(name) + "\n",
        )
    return {"alice": login(lab, "alice")}


# --- what each host holds ---------------------------------------------------------------------------


def files_of(var: Path) -> list[str]:
    """Return the secret-bearing files of a host's var/: the secrets files and pki/ (sorted)."""
    found = [
        p for p in var.rglob("*") if p.is_file() and (p.parent.name == "pki" or p.name.startswith("secrets"))
    ]
    return sorted(str(p.relative_to(var)) for p in found)


def all_links_ok(links) -> bool:
    """Every link of the matrix answers, but the monitor's (the lab places no monitor: unused, off)."""
    for link in links:
        expected = "unused" if "monitor" in (link.source, link.target) else "ok"
        assert link.state == expected, link
    return True


def test_each_host_holds_only_what_its_roles_need(lab):
    config = lab.config()
    control_secrets = tomllib.loads((lab.shared / "secrets.toml").read_text())
    assert (lab.shared / "pki" / "ca.key").exists()  # the lab's control keeps the CA key
    print("\nfiles found on each lab host (secrets files and pki/):")
    for name, h in lab.hosts.items():
        var = Path(h.var)
        found = files_of(var)
        print(f"  {name} ({', '.join(config.roles_on(name))}): {', '.join(found)}")
        assert not list(var.rglob("ca.key")), name
        held = tomllib.loads((var / "secrets.toml").read_text())
        assert set(held) == set(cfgmod.host_secret_keys(config, name)) & set(control_secrets), name
        assert all(held[k] == control_secrets[k] for k in held), name
        assert "admin_password" not in held, name
        assert (var / "secrets.toml").stat().st_mode & 0o777 == 0o600, name
        # Its certificates are its roles' own, issued on the control and checked by its `strata up`.
        certs = {
            f"pki/{r.stem}.{ext}"
            for role in config.roles_on(name)
            for r in _certs(config, role, name)
            for ext in ("crt", "key")
        }
        assert {f for f in found if f.startswith("pki/")} == {"pki/ca.crt", *certs}, name
        for key in certs:
            if key.endswith(".key"):
                assert (var / key).stat().st_mode & 0o777 == 0o600, (name, key)
    # Nothing with a secret for a web host: it faces the internet.
    web = config.hosts_of("web")[0].name
    assert tomllib.loads((Path(lab.hosts[web].var) / "secrets.toml").read_text()) == {}
    # The first admin's password is on the control only; nothing the hosts wrote (logs) holds it either.
    password = control_secrets["admin_password"]
    for name, h in lab.hosts.items():
        for p in Path(h.var).rglob("*"):
            if p.is_file() and p.stat().st_size < 5_000_000 and "data" not in p.relative_to(h.var).parts[:1]:
                assert password.encode() not in p.read_bytes(), (name, p)
    for log in (Path(lab.dir) / "log").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log


def _certs(config, role: str, host: str):
    from strata.deploy.roles.base import all_roles

    return all_roles()[role].certificates(config, config.hosts[host])


# --- the network -----------------------------------------------------------------------------------


def test_every_host_is_a_namespace_with_its_own_address_and_firewall(lab):
    config = lab.config()
    for name, h in lab.hosts.items():
        addrs = subprocess.run(
            ["ip", "-n", h.netns, "-j", "-4", "addr"], capture_output=True, text=True, check=True
        ).stdout
        assert h.address in addrs
        assert config.hosts[name].address == h.address
        assert h.address.startswith("198.18.0.")
        rules = subprocess.run(
            ["ip", "netns", "exec", h.netns, "nft", "list", "table", "inet", "strata_lab"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "policy drop" in rules
    # One site: every host holds the same CA certificate after its `strata up` (nothing regenerated).
    assert len({(Path(h.var) / "pki" / "ca.crt").read_bytes() for h in lab.hosts.values()}) == 1
    # Each host runs its own supervisor in its own var/ tree, with only its own roles.
    db = config.host_of("db").name
    assert lab.supervisor(db).running_programs() == {"db", "db-pitr"}  # pitr: the full backups
    assert lab.supervisor(config.hosts_of("web")[0].name).running_programs() == {"web"}
    assert {"app-1", "worker"} <= lab.supervisor(config.hosts_of("app")[1].name).running_programs()


def test_every_flow_of_the_matrix_is_open_and_every_other_is_blocked(lab):
    flows = labcheck.check(lab)
    wrong = [f for f in flows if not f.as_expected]
    assert not wrong, wrong
    config = lab.config()
    open_ = {(f.source, f.target, f.role) for f in flows if f.result == "open"}
    apps = [h.name for h in config.hosts_of("app")]
    # A few that matter, stated plainly: the database only from app hosts, the app only from web and comms,
    # SeaweedFS's internal servers from nobody, and the outside world only to nginx.
    assert {(s, "db") for s in apps} <= {(s, t) for s, t, _r in open_}
    assert {s for s, t, r in open_ if r == "db"} == set(apps)
    assert {s for s, t, r in open_ if r == "app"} == {"web", "comms"}
    assert {r for s, t, r in open_ if s == labcheck.OUTSIDE} == {"web"}
    internal = [f for f in flows if f.role == "files" and f.port != config.roles["files"]["port"]]
    assert internal
    assert all(f.result == "timeout" for f in internal)


def s_client(lab, source: str, address: str, port: int, *starttls: str) -> subprocess.CompletedProcess:
    """Run `openssl s_client` from SOURCE's namespace to ADDRESS:PORT, verifying the server's certificate
    against the site CA and ADDRESS (its IP SAN); -brief writes the verdict to stderr."""
    return lab.run_in(
        source,
        ["openssl", "s_client", "-connect", f"{address}:{port}", *starttls, "-brief"]
        + ["-verify_return_error", "-CAfile", str(lab.ca()), "-verify_ip", address],
        input="",
        timeout=30,
        check=False,
    )


def test_every_link_across_hosts_is_tls_verified_with_the_site_ca(lab):
    config = lab.config()
    app1, db, comms = config.hosts_of("app")[0], config.host_of("db"), config.host_of("comms")
    web, domain = config.hosts_of("web")[0], config.host_of("domain")
    # PostgreSQL admits an app host over TLS only: a plaintext connection is refused by pg_hba.conf.
    dsn = f"host={db.address} port={config.roles['db']['port']} dbname={config.roles['db']['name']}"
    proc = lab.run_in(
        app1.name,
        [
            "psql",
            "-w",
            f"{dsn} user={config.roles['db']['user']} sslmode=disable connect_timeout=5",
            "-c",
            "SELECT 1",
        ],
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0
    assert "no pg_hba.conf entry" in proc.stderr, proc.stderr
    assert "no encryption" in proc.stderr, proc.stderr
    # Each TLS link verifies with the site CA, from a host the matrix lets through.
    links = [
        (app1.name, db.address, config.roles["db"]["port"], ("-starttls", "postgres")),
        (app1.name, comms.address, config.roles["comms"]["port"], ("-starttls", "smtp")),
        (app1.name, domain.address, config.roles["domain"]["port"], ("-starttls", "ldap")),
        *[(web.name, i.host.address, i.port, ()) for i in config.app_instances()],
        *[(comms.name, i.host.address, i.port, ()) for i in config.app_instances()],
        # The event servers (uvicorn), reached by nginx only.
        *[(web.name, h.address, config.roles["app"]["events_port"], ()) for h in config.hosts_of("app")],
    ]
    for source, address, port, starttls in links:
        proc = s_client(lab, source, address, port, *starttls)
        assert proc.returncode == 0, (source, address, port, proc.stderr[-500:])
        assert "Verification: OK" in proc.stderr, (source, address, port, proc.stderr[-500:])
    # The check bites: an app server's certificate does not pass for another app host's address.
    other = config.hosts_of("app")[1].address
    wrong = lab.run_in(
        web.name,
        ["openssl", "s_client", "-connect", f"{app1.address}:{config.roles['app']['port']}", "-brief"]
        + ["-verify_return_error", "-CAfile", str(lab.ca()), "-verify_ip", other],
        input="",
        timeout=30,
        check=False,
    )
    assert wrong.returncode != 0
    assert "IP address mismatch" in wrong.stderr, wrong.stderr[-500:]


def test_only_the_s3_port_of_the_file_server_faces_other_hosts(lab):
    """What the firewall's drops above hide: on the files host, SeaweedFS's internal servers listen on
    loopback only (their gRPC ports too, but the S3 gateway's, which takes mutual TLS only), and the S3
    port, HTTPS with the site CA, refuses an unsigned request from another host."""
    config = lab.config()
    files, host = config.roles["files"], config.host_of("files")
    listening: dict[int, set[str]] = {}
    for line in lab.run_in(host.name, ["ss", "-ltnH"]).stdout.splitlines():
        address, _, port = line.split()[3].rpartition(":")
        listening.setdefault(int(port), set()).add(address.strip("[]"))
    base = files["internal_port"]
    for port in range(base, base + INTERNAL_PORTS):
        if port != base + S3_GRPC_OFFSET:
            assert listening.get(port) == {"127.0.0.1"}, (port, listening.get(port))
    assert host.address in listening.get(files["port"], set())
    app = config.hosts_of("app")[0].name
    url = f"https://{host.address}:{files['port']}/{files['bucket']}/"
    unsigned = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(lab.ca()), url]
    assert lab.run_in(app, unsigned).stdout == "403"


def test_lab_check_and_status_from_the_cli(lab):
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "lab", "check", "--dir", lab.dir],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "all as the matrix says" in proc.stdout
    # `strata status` on any host (here the second app host) reports every host's roles and every link.
    app2 = lab.config().hosts_of("app")[1].name
    proc = lab.strata(app2, "status", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Which firewall guards each host: the lab's own, which has dropped the blocked flows just tried.
    for host in lab.hosts:
        assert re.search(
            rf"^firewall on {host}: lab \(\d+ rules, \d+ packets dropped\)$", proc.stdout, re.M
        ), proc.stdout
    roles, links = labcheck.status(lab)
    assert {r.role: r.state for r in roles} == {
        **dict.fromkeys(("web", "app", "db", "comms", "domain", "files"), "ok"),
        "monitor": "off",  # not placed in the lab's topology
    }
    assert all_links_ok(links)


def test_status_page_draws_every_host(lab):
    admin = client(lab)
    secrets = (lab.shared / "secrets.toml").read_text()
    password = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in secrets.splitlines()
        if line.startswith("admin_password")
    )
    assert "/people/" in admin.login(lab.config().site["admin_username"], password).url
    page = admin.get("/status/")
    assert page.status == 200
    assert "<svg" in page.text
    assert "style=" not in page.text.split("<svg")[1]
    for name, h in lab.hosts.items():
        assert f">{name}</text>" in page.text
        assert h.address in page.text
    # Seen from one app server, what the firewall hides is "unchecked", never a false "down".
    assert 'class="badge badge-down"' not in page.text
    assert "link-down" not in page.text
    assert 'class="badge badge-unchecked"' in page.text


# --- the journey across hosts ----------------------------------------------------------------------


def test_journey_login_upload_download_message_across_hosts(lab, people):
    alice = people["alice"]  # a directory login: app -> domain host
    page = alice.get("/people/")
    assert page.status == 200
    assert "Bob" in page.text
    data = os.urandom(6 * 1024 * 1024 + 17)
    status, f = upload(alice, "lab.bin", data)
    assert status == 201, f
    status, body = download(alice, f"/files/file/{f['id']}/download")
    assert status == 200
    assert body == data
    # The bytes are on the file server, seen from a host allowed to ask it (app -> files).
    assert in_host(lab, lab.config().hosts_of("app")[0].name, on_host.stored_bytes) >= len(data)
    # A message: stored in the app, mailed by the worker through Postfix on the comms host.
    resp = alice.post("/messages/new/", {"to": "bob", "subject": "Lab hello", "body": "Across hosts."})
    assert resp.status == 200, text_of(resp.text)[:300]
    assert "/messages/c/" in resp.url, text_of(resp.text)[:300]
    mail = wait_for(
        lambda: outbox_to(comms_var(lab), "bob@example.org", "Lab hello"),
        timeout=60,
        what="Bob's notification",
    )[0]
    assert "Across hosts." in mail.message().get_body(("plain",)).get_content()
    # Bob's reply by email, submitted from an app host: Postfix refuses it in plain from there, takes it
    # over STARTTLS, and its pipe hands it to an app server over verified HTTPS (comms -> app).
    conversation, reply_to = resp.url, str(mail.message()["Reply-To"])
    app1 = lab.config().hosts_of("app")[0].name
    refused = in_host(lab, app1, on_host.submit_mail, "bob@example.org", reply_to, "Re", "Plain.", False)
    assert refused[0] == 450, refused
    assert "encryption is required" in refused[1], refused
    sent = in_host(lab, app1, on_host.submit_mail, "bob@example.org", reply_to, "Re", "Over TLS.", True)
    assert sent == [250, ""]
    wait_for(lambda: "Over TLS." in alice.get(conversation).text, timeout=60, what="Bob's reply by email")
    assert "Plain." not in alice.get(conversation).text


# --- failures --------------------------------------------------------------------------------------


def test_sigkill_of_one_app_server_under_load_fails_no_get(lab, people):
    config = lab.config()
    victim_host = config.hosts_of("app")[0].name
    sup = lab.supervisor(victim_host)
    pid = sup.pid("app-1")
    assert pid
    results: list[int | str] = []
    stop = time.monotonic() + 5
    lock = threading.Lock()

    def load():
        c = client(lab)
        while time.monotonic() < stop:
            try:
                status = c.get("/accounts/login/").status
            except OSError as exc:
                status = type(exc).__name__
            with lock:
                results.append(status)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(pid, signal.SIGKILL)  # the gunicorn master of the lab's first app host, started by this test
    for t in threads:
        t.join()
    failed = [r for r in results if r != 200]
    print(f"\n{len(results)} GETs under load, {len(failed)} failed")
    assert len(results) > 20, failed[:10]
    assert not failed, failed[:10]
    # That host's supervisor brings its app server back.
    wait_for(
        lambda: sup.is_running("app-1") and sup.pid("app-1") not in (0, pid),
        timeout=30,
        what="the killed app server to be restarted",
    )
    # ... and it serves again once its orphaned workers have let go of the port.
    wait_for(
        lambda: {r.role: r.state for r in labcheck.status(lab)[0]}["app"] == "ok",
        timeout=60,
        what="the restarted app server to answer /healthz",
    )


def test_directory_down_degrades_only_logins(lab, people):
    alice = people["alice"]
    config = lab.config()
    sup = lab.supervisor(config.host_of("domain").name)
    sup.stop("domain")
    try:
        start = time.monotonic()
        resp = client(lab).login("bob", PASSWORD.format("bob"))
        assert resp.status == 503, (resp.status, resp.text[:300])
        assert UNAVAILABLE in text_of(resp.text), (resp.status, resp.text[:300])
        assert time.monotonic() - start < 5
        # Everything else lives on: the session, pages, files and messages.
        assert alice.get("/people/").status == 200
        assert alice.get("/files/").status == 200
        resp = alice.post("/messages/new/", {"to": "bob", "subject": "No directory", "body": "Still here."})
        assert resp.status == 200
        assert "/messages/c/" in resp.url
        reports = labcheck.status(lab)[0]
        roles = {r.role: r.state for r in reports}
        expected = {**dict.fromkeys(roles, "ok"), "domain": "down", "monitor": "off"}
        assert roles == expected, [r.detail for r in reports]
    finally:
        sup.start("domain")
        lab.strata(config.hosts_of("app")[0].name, "users", "unlock", "--all", check=False)
    wait_for(
        lambda: "/people/" in client(lab).login("bob", PASSWORD.format("bob")).url,
        timeout=30,
        what="directory logins to work again",
    )


def test_mail_server_down_messages_stay_in_app_and_mail_waits(lab, people):
    alice = people["alice"]
    config = lab.config()
    sup = lab.supervisor(config.host_of("comms").name)
    sup.stop("comms")
    try:
        resp = alice.post(
            "/messages/new/", {"to": "bob", "subject": "While comms is down", "body": "Queued, not lost."}
        )
        assert resp.status == 200
        assert "/messages/c/" in resp.url
        bob = login(lab, "bob")
        assert "While comms is down" in bob.get("/messages/").text
        time.sleep(3)  # the worker's first attempts fail meanwhile
        assert not outbox_to(comms_var(lab), "bob@example.org", "While comms is down")
    finally:
        sup.start("comms")
    mail = wait_for(
        lambda: outbox_to(comms_var(lab), "bob@example.org", "While comms is down"),
        timeout=90,
        what="the queued notification after comms came back",
    )
    assert len(mail) == 1


def test_backup_from_an_app_host_lands_on_the_file_server(lab, people):
    # `strata backup` dumps over TCP as the app's database user, which pg_hba.conf admits from the app
    # hosts only: the dump goes app host -> db, then app host -> files (backup bucket).
    app1 = lab.config().hosts_of("app")[0].name
    lab.strata(app1, "backup")
    listing = lab.strata(app1, "backup", "--list").stdout
    assert listing.strip(), "no backup listed"


def personal_files(c: Client) -> dict[str, int] | None:
    """Return the names and ids of C's files in their personal space, as the API lists them (None while
    the site cannot answer)."""
    resp = c.get("/api/files/")
    if resp.status != 200:
        return None
    mine = next(s for s in json.loads(resp.text)["spaces"] if s["kind"] == "personal")
    resp = c.get(f"/api/files/spaces/{mine['id']}/")
    return {f["name"]: f["id"] for f in json.loads(resp.text)["files"]} if resp.status == 200 else None


def test_restore_to_a_moment_runs_on_the_db_host_while_the_app_hosts_serve(lab, people):
    """`strata restore --to` on the db host (pgBackRest archives there, to the file server reached by the
    name the lab's hosts file gives it): the app servers on the other hosts keep running, answer 503 with
    Retry-After meanwhile (never another error), and then serve the moment's rows and files, with no
    session or row of after that moment left in their memory."""
    config = lab.config()
    db = config.host_of("db").name
    wait_for(lambda: in_host(lab, db, on_host.pitr_backups), timeout=300, what="the first full backup")
    alice = people["alice"]
    kept = os.urandom(300_000)
    assert upload(alice, "pitr-kept.bin", kept)[0] == 201
    time.sleep(1.1)
    target = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    time.sleep(1.1)
    assert upload(alice, "pitr-after.bin", os.urandom(1000))[0] == 201
    later = login(lab, "bob")  # a session that begins after the moment
    assert {"pitr-kept.bin", "pitr-after.bin"} <= set(personal_files(alice) or ())

    seen: list[tuple[int, bool]] = []
    stop = threading.Event()

    def load() -> None:
        c = client(lab)
        for cookie in alice.jar:
            c.jar.set_cookie(cookie)
        while not stop.is_set():
            resp = c.get("/people/")
            seen.append((resp.status, bool(resp.headers.get("Retry-After"))))
            time.sleep(0.05)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        started = time.monotonic()
        proc = lab.strata(db, "restore", "--to", target, timeout=900)
        took = time.monotonic() - started
        time.sleep(2)
    finally:
        stop.set()
        loader.join(30)
    print(f"\n{proc.stdout}restore on the db host: {took:.1f}s; pages meanwhile: {len(seen)}")
    assert "keep running" in proc.stdout
    assert f"restored the database to {target} UTC" in proc.stdout
    statuses = {status for status, _retry in seen}
    assert statuses <= {200, 503}, sorted(statuses)  # no 500 or 502 while the database was away
    assert all(retry for status, retry in seen if status == 503)
    assert seen[-1][0] == 200  # back by itself

    files = wait_for(lambda: personal_files(alice), what="alice's files after the restore")
    assert "pitr-kept.bin" in files
    assert "pitr-after.bin" not in files
    assert download(alice, f"/files/file/{files['pitr-kept.bin']}/download") == (200, kept)
    # The session that began after the moment is gone from the database and from every app server's memory.
    assert "/accounts/login/" in later.get("/people/").url


def lab_drill(lab, names: list[str], where: Path) -> tuple[subprocess.CompletedProcess, dict, str]:
    """Run `strata lab drill NAMES` from the root namespace; return the run, each drill's record and the
    markdown report."""
    env = {k: v for k, v in os.environ.items() if k not in (cfgmod.ENV_VAR_DIR, cfgmod.ENV_HOST)}
    argv = ["lab", "drill", *names, "--dir", lab.dir, "--seconds", "3", "--report-dir", str(where)]
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(proc.stdout)  # the figures (pytest -rP shows them)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report,) = where.glob("drill-*.md")
    (record,) = [json.loads(line) for line in (where / "history.jsonl").read_text().splitlines()]
    by = {r["drill"]: r for r in record["results"]}
    assert set(names) == set(by), sorted(by)
    assert "skipped" not in proc.stdout
    for name, result in by.items():
        assert result["passed"], result
        assert f"{name}: pass" in proc.stdout
        assert f"| {name} |" in report.read_text()
    return proc, by, report.read_text()


def test_every_fault_drill_passes_against_the_lab_from_its_control(lab, people, tmp_path):
    """`strata lab drill` from the root namespace: the load through the web host, each role broken on its
    own host (through its supervisor), backups and the wipe run on the first app host."""
    _proc, by, _report = lab_drill(lab, [d for d in drill.DRILLS if d != "upgrade"], tmp_path)
    assert by["app-kill"]["requests"] > 20  # the load ran through the web host meanwhile
    assert by["db-restart"]["measured"]["answered_503"] > 0  # the outage was seen from the control
    assert by["backup-restore"]["measured"]["objects"] >= 3
    # The restore brought back everyone's data: Alice logs in and her session pages work.
    assert "/people/" in login(lab, "alice").get("/people/").url


def test_the_upgrade_drill_moves_every_app_host_to_a_new_release_under_gets_and_uploads(
    lab, people, tmp_path
):
    """`strata lab drill upgrade`: the lab's rolling upgrade moves every app server (each out of the web
    host's pool in turn) from release A to B (an expand migration, a header) while sessions GET pages and
    upload files through the web host: not one request fails, every upload is kept with its bytes."""
    config = lab.config()
    root = Path(lab.dir).parent
    migration = make_b(root / "releases" / "A", root / "releases" / "B")
    point(root / "current", root / "releases" / "B")
    instances = [(i.host.name, i.name) for i in config.app_instances()]
    assert len({h for h, _n in instances}) >= 2  # the upgrade crosses hosts
    before = {(h, n): lab.supervisor(h).pid(n) for h, n in instances}
    workers = {h.name: lab.supervisor(h.name).pid("worker") for h in config.hosts_of("app")}
    assert client(lab).get("/accounts/login/").headers.get(MARKER) is None  # A answers
    _proc, by, _report = lab_drill(lab, ["upgrade"], tmp_path)
    done = by["upgrade"]
    assert done["measured"]["failed"] == 0
    assert done["measured"]["lost_uploads"] == 0
    assert done["requests"] > 20
    assert re.search(r"and [1-9]\d* uploads", done["did"]), done["did"]
    assert "(1 migration(s)" in done["did"], migration
    for host, name in instances:
        assert f"{host}/{name}" in done["did"]
        assert lab.supervisor(host).pid(name) not in (0, before[host, name]), name
    for host, pid in workers.items():
        assert lab.supervisor(host).pid("worker") not in (0, pid), host
    page = login(lab, "alice").get("/people/")
    assert "/people/" in page.url
    assert page.headers.get(MARKER) == "B"


def test_rotating_a_secret_and_certificates_reaches_the_hosts_that_use_them(lab, people):
    """Last: `strata rotate` on the lab's control, the bundles shared again, `strata up` on the hosts.
    The web host serves its new certificate, and the comms -> app link (authenticated with the rotated
    comms_inbound_secret, over TLS to the app servers' new certificates) still works."""
    config = lab.config()
    web = config.hosts_of("web")[0]
    https = config.roles["web"]["https_port"]
    serial = served_certificate(web.address, https, cafile=str(lab.ca())).serial_number
    with (lab.shared / "secrets.toml").open("rb") as fh:
        old_secret = tomllib.load(fh)["comms_inbound_secret"]
    env = {k: v for k, v in os.environ.items() if k not in (cfgmod.ENV_VAR_DIR, cfgmod.ENV_HOST)}
    argv = ["rotate", "--secret", "comms_inbound_secret", "--certificate", "web", "--certificate", "app"]
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(lab.config_path), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    labrun.share_bundles(lab)
    for host in dict.fromkeys(
        [web.name, *(h.name for h in config.hosts_of("app")), config.host_of("comms").name]
    ):
        lab.strata(host, "up")
    with (Path(lab.hosts[config.host_of("comms").name].var) / "secrets.toml").open("rb") as fh:
        assert tomllib.load(fh)["comms_inbound_secret"] != old_secret
    assert served_certificate(web.address, https, cafile=str(lab.ca())).serial_number != serial
    roles, links = labcheck.status(lab)
    assert all(r.state == ("off" if r.role == "monitor" else "ok") for r in roles), roles
    assert all_links_ok(links)
    assert "/people/" in login(lab, "alice").get("/people/").url
