"""End-to-end over the real stack: nginx (HTTPS) -> gunicorn (2 instances) -> PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import stat
import time

import psycopg
import pytest

from strata.deploy import config as cfgmod
from strata.deploy import health
from strata.deploy import local as deploy
from strata.deploy.roles.app.client import get_healthz
from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client, text_of

pytestmark = pytest.mark.integration

PEOPLE = [
    ("ada", "Ada", "Lovelace", "Analytical Engines", "+44 20 7946 0001"),
    ("grace", "Grace", "Hopper", "Compilers", "+1 555 0100"),
    ("alan", "Alan", "Turing", "Codebreaking", "+44 20 7946 0002"),
]


@pytest.fixture(scope="module")
def people(stack):
    return stack.call(
        in_site.save_people,
        [
            {
                "username": username,
                "password": "correct horse battery " + username,
                "details": {
                    "first_name": first,
                    "last_name": last,
                    "email": username + "@example.org",
                    "phone": phone,
                    "title": "Engineer",
                    "department": dept,
                },
            }
            for username, first, last, dept, phone in PEOPLE
        ],
    )


def admin_client(stack) -> Client:
    c = Client(stack.url, stack.ca)
    resp = c.login(*stack.admin)
    assert resp.status == 200, resp.text[:500]
    assert "/people/" in resp.url, resp.text[:500]
    return c


def test_every_required_role_is_healthy_and_optional_ones_report_their_fallback(stack):
    roles = {r.role: r for r in health.roles_report(stack.config, stack.secrets)}
    assert {n: roles[n].state for n in ("web", "app", "db")} == {"web": "ok", "app": "ok", "db": "ok"}
    for name in ("comms", "domain", "files"):
        assert roles[name].state == "fallback"
        assert roles[name].fallback
    report = health.links_report(stack.config, stack.secrets)
    links = {(link.source, link.target): link.state for link in report}
    assert links[("web", "app")] == "ok"
    assert links[("app", "db")] == "ok"
    assert links[("app", "files")] == "unused"
    assert set(stack.result.fallbacks) == {"comms", "domain", "files"}


def test_admin_logs_in_over_https_and_searches_the_directory(stack, people):
    c = admin_client(stack)
    resp = c.get("/people/?q=hopper")
    assert resp.status == 200
    body = text_of(resp.text)
    assert "Grace Hopper" in body
    assert "Compilers" in body
    assert "Ada Lovelace" not in body
    # Every term must match: two terms narrowing to one person.
    body = text_of(c.get("/people/?q=44+codebreak").text)
    assert "Alan Turing" in body
    assert "Ada Lovelace" not in body
    person = c.get("/people/ada/")
    assert person.status == 200
    assert "+44 20 7946 0001" in person.text
    assert "ada@example.org" in person.text
    assert c.get("/people/nobody-here/").status == 404


def test_wrong_password_is_refused_and_pages_need_login(stack):
    c = Client(stack.url, stack.ca)
    resp = c.login(stack.admin[0], "not the password")
    assert resp.status == 200
    assert "/accounts/login/" in resp.url
    assert "<title>Log in · Strata test</title>" in resp.text
    assert "correct username and password" in resp.text
    resp = Client(stack.url, stack.ca, follow=False).get("/people/")
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/accounts/login/")


def test_person_edits_contact_details_and_bad_input_changes_nothing(stack, people):
    c = Client(stack.url, stack.ca)
    assert "/people/" in c.login("grace", "correct horse battery grace").url
    bad = c.post(
        "/people/me/edit/",
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "not-an-email",
            "phone": "call me <maybe>",
            "fax": "",
            "title": "Rear Admiral",
            "department": "Navy",
        },
    )
    assert bad.status == 400
    assert "Compilers" in c.get("/people/grace/").text  # nothing was saved
    ok = c.post(
        "/people/me/edit/",
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.org",
            "phone": "+1 555 0199",
            "fax": "+1 555 0198",
            "title": "Rear Admiral",
            "department": "Navy",
        },
    )
    assert ok.status == 200
    assert ok.url.endswith("/people/grace/")
    assert "+1 555 0198" in ok.text
    assert "Rear Admiral" in ok.text
    no_csrf = c.request(
        "POST",
        "/people/me/edit/",
        {"first_name": "X"},
        headers={"Origin": stack.url, "Referer": stack.url + "/"},
    )
    assert no_csrf.status == 403


def test_password_change(stack, people):
    c = Client(stack.url, stack.ca)
    c.login("alan", "correct horse battery alan")
    resp = c.post(
        "/accounts/password/",
        {
            "old_password": "correct horse battery alan",
            "new_password1": "enigma machine rotor 42",
            "new_password2": "enigma machine rotor 42",
        },
    )
    assert resp.status == 200
    assert resp.url.endswith("/accounts/password/done/")
    fresh = Client(stack.url, stack.ca)
    assert "/people/" in fresh.login("alan", "enigma machine rotor 42").url


def test_status_page_is_for_admins_only(stack, people):
    page = admin_client(stack).get("/status/")
    assert page.status == 200
    body = text_of(page.text)
    for role in ("web", "app", "db", "comms", "domain", "files"):
        assert f" {role} " in body
    roles_part = page.text.split("<h2>Connections")[0]
    assert roles_part.count('class="badge badge-fallback"') == 3
    assert roles_part.count('class="badge badge-ok"') == 3
    user = Client(stack.url, stack.ca, follow=False)
    user.login("ada", "correct horse battery ada")
    assert user.get("/status/").status == 302  # to the admin login, never the page


def test_http_redirects_to_https_and_security_headers_are_sent_once(stack):
    web = stack.config.roles["web"]
    with socket.create_connection(("127.0.0.1", web["http_port"]), timeout=5) as s:
        s.sendall(b"GET /people/?q=a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 301")
    assert f"Location: https://localhost:{web['https_port']}/people/?q=a" in head
    resp = Client(stack.url, stack.ca, follow=False).get("/accounts/login/")
    for header in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Content-Security-Policy",
    ):
        assert len(resp.headers.get_all(header) or []) == 1, header
    css = Client(stack.url, stack.ca).get("/static/strata/site.css")
    assert css.status == 200
    assert css.headers["Content-Type"] == "text/css"


def test_healthz_is_internal(stack):
    assert Client(stack.url, stack.ca).get("/healthz").status == 404  # through nginx: hidden
    inst = stack.config.app_instances()[0]
    body = get_healthz(inst.host.address, inst.port)  # straight to the app server: one check per dependency
    assert body["status"] == "ok"
    assert body["checks"]["db"]["ok"] is True


def test_killing_one_app_instance_does_not_fail_a_get(stack):
    sup = Supervisor(stack.config.var_dir)
    victim = stack.config.app_instances()[0].name
    pid = sup.pid(victim)
    assert pid > 0
    c = Client(stack.url, stack.ca)
    os.kill(pid, signal.SIGKILL)
    statuses = [c.get("/accounts/login/").status for _ in range(40)]
    assert statuses == [200] * 40
    # The supervisor brings the instance back.
    deadline = time.monotonic() + 30
    while not (sup.is_running(victim) and sup.pid(victim) not in (0, pid)):
        assert time.monotonic() < deadline, "the killed app instance was not restarted"
        time.sleep(0.2)


def test_database_accepts_only_the_app_user_from_app_hosts(stack):
    db = stack.config.roles["db"]
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
        psycopg.connect(
            host="127.0.0.1",
            port=db["port"],
            user="postgres",
            dbname="postgres",
            password=stack.secrets["db_superuser_password"],
            connect_timeout=3,
        )
    with contextlib.closing(
        psycopg.connect(
            host="127.0.0.1",
            port=db["port"],
            user=db["user"],
            dbname=db["name"],
            password=stack.secrets["db_app_password"],
            connect_timeout=3,
        )
    ) as conn:
        su = conn.execute(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert su == (False, False)


def test_secrets_and_keys_are_private(stack):
    var = stack.config.var_dir
    for path in (stack.config.secrets_path, var / "pki" / "ca.key", var / "pki" / "web.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # The app's processes get only their subset, as their own user; the full file stays root's.
    app_secrets = var / "secrets-app.toml"
    assert stat.S_IMODE(app_secrets.stat().st_mode) == 0o600
    assert pwd.getpwuid(app_secrets.stat().st_uid).pw_name == "strata"
    assert stack.config.secrets_path.stat().st_uid == 0
    subset = app_secrets.read_text()
    assert stack.secrets["db_app_password"] in subset
    for key in ("db_superuser_password", "admin_password", "s3_admin_secret_key", "ldap_admin_password"):
        assert key not in subset
        assert stack.secrets[key] not in subset
    logs = "".join(p.read_text(errors="replace") for p in (var / "log").rglob("*.log"))
    for key in ("admin_password", "db_app_password", "db_superuser_password", "django_secret_key"):
        assert stack.secrets[key] not in logs, f"{key} leaked into a log"


def test_check_deploy_is_clean(stack):
    out = stack.ctx().manage("check", "--deploy", "--fail-level", "DEBUG")
    assert "no issues" in out


def test_up_again_is_harmless(stack):
    pids = {name: Supervisor(stack.config.var_dir).pid(name) for name in ("db", "web")}
    again = deploy.up(stack.config.path)
    assert again.admin_password is None  # created once, printed once
    assert again.url == stack.result.url
    sup = Supervisor(stack.config.var_dir)
    assert {name: sup.pid(name) for name in pids} == pids  # nothing restarted
    assert Client(stack.url, stack.ca).get("/accounts/login/").status == 200
    assert json.dumps(cfgmod.load_secrets(stack.config)) == json.dumps(stack.secrets)


def test_background_worker_runs_queued_tasks(stack):
    task_id = stack.call(in_site.enqueue_ping, "hello")
    result: dict = {}
    deadline = time.monotonic() + 30
    while result.get("status") != "SUCCESSFUL":
        assert time.monotonic() < deadline, f"task not run by the worker: {result}"
        time.sleep(0.3)
        result = stack.call(in_site.ping_result, task_id)
    assert result["return_value"] == "hello"
    sup = Supervisor(stack.config.var_dir)
    assert sup.is_running("worker")
    # The first app host's worker runs the periodic-task scheduler in a thread.
    log = (stack.config.var_dir / "log" / "app" / "worker.log").read_text()
    assert "scheduler: files.reconcile every" in log
