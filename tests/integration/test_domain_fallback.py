"""Without the domain role, the same commands and pages manage Django's own accounts (the shared stack)."""

from __future__ import annotations

import json

import pytest

from strata.deploy.roles.app.client import get_healthz
from tests.support import in_site
from tests.support.client import Client
from tests.support.domain import reset_lockouts
from tests.support.stack import ok, strata

pytestmark = pytest.mark.integration

PW = "correct horse battery {}"


def state(stack, name: str) -> dict:
    full = stack.call(in_site.user_state, name)
    return {"active": full["active"], "groups": full["groups"], "dept": full["department"]}


def test_the_cli_writes_django_accounts_with_the_same_answers(stack):
    assert (
        ok(
            stack,
            "users",
            "add",
            "fb-ann",
            "--department",
            "Ops",
            "--password-stdin",
            stdin=PW.format("ann") + "\n",
        )
        == "added user fb-ann"
    )
    assert ok(stack, "groups", "add", "fb-team") == "added group fb-team"
    assert ok(stack, "groups", "add-member", "fb-team", "fb-ann") == "added fb-ann to fb-team"
    assert state(stack, "fb-ann") == {"active": True, "groups": ["fb-team"], "dept": "Ops"}
    c = Client(stack.url, stack.ca)
    assert "/people/" in c.login("fb-ann", PW.format("ann")).url
    assert ok(stack, "groups", "remove-member", "fb-team", "fb-ann") == "removed fb-ann from fb-team"
    assert state(stack, "fb-ann")["groups"] == []
    assert (
        ok(stack, "users", "passwd", "fb-ann", "--password-stdin", stdin=PW.format("ann2") + "\n")
        == "set the password of fb-ann"
    )
    assert ok(stack, "users", "disable", "fb-ann") == "disabled fb-ann; ended 1 session(s)"
    assert "/accounts/login/" in c.get("/people/").url
    assert state(stack, "fb-ann")["active"] is False
    reset_lockouts(stack)


def test_bad_input_is_refused_the_same_way(stack, tmp_path):
    proc = strata(stack, "groups", "add-member", "no-such-group", "admin")
    assert (proc.returncode, proc.stderr) == (2, "strata: unknown group 'no-such-group'\n")
    proc = strata(stack, "users", "add", "a*b", "--password-stdin", stdin=PW.format("x") + "\n")
    assert proc.returncode == 2
    assert "may hold only" in proc.stderr
    proc = strata(stack, "users", "add", "fb-weak", "--password-stdin", stdin="123\n")
    assert proc.returncode == 2
    assert "too weak" in proc.stderr
    csv = tmp_path / "people.csv"
    csv.write_text("username,password\nfb-bo,correct horse battery bo\nfb-bo,correct horse battery b2\n")
    proc = strata(stack, "users", "import", str(csv))
    assert proc.returncode == 2
    assert "row 3: duplicate username 'fb-bo' (also row 2)" in proc.stderr
    assert "fb-bo" not in stack.call(in_site.usernames)
    csv.write_text("username,password,department\nfb-bo,correct horse battery bo,Sales\n")
    assert ok(stack, "users", "import", str(csv)) == "imported 1 user(s)"
    proc = strata(stack, "domain", "sync")
    assert proc.returncode == 2
    assert "roles.domain" in proc.stderr
    assert "off" in proc.stderr


def test_no_domain_check_in_healthz_and_api_tokens_work_with_local_accounts(stack):
    inst = stack.config.app_instances()[0]
    assert "domain" not in get_healthz(inst.host.address, inst.port)["checks"]
    ok(stack, "services", "add", "fb-bot")
    assert strata(stack, "groups", "add", "api").returncode in (0, 2)  # 2: another test added it
    ok(stack, "groups", "add-member", "api", "fb-bot")
    token = ok(stack, "tokens", "issue", "--service", "fb-bot")
    import ssl
    import urllib.request

    req = urllib.request.Request(stack.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=str(stack.ca))) as resp:
        body = json.loads(resp.read())
    assert body["kind"] == "service"
    assert "api" in body["groups"]
