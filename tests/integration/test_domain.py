"""The domain role against a real slapd started by strata.deploy.up: the directory itself (TLS, ACLs,
hashing), managing it with the CLI, login through nginx, mirroring, sync, service accounts and tokens,
brute-force lockout, bad input, zero LDAP traffic per page, and the directory going down.
"""

from __future__ import annotations

import json
import os
import pwd
import ssl
import stat
import time
import urllib.error
import urllib.request

import ldap
import pytest

from strata.deploy import health
from strata.deploy.roles.app.client import get_healthz
from strata.deploy.roles.domain.client import tree
from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client, text_of
from tests.support.domain import (
    admin_ldap,
    bind_as,
    client_from,
    ldap_operations,
    person_attrs,
    reset_lockouts,
    start_domain_stack,
)
from tests.support.stack import drill, ok, strata

pytestmark = pytest.mark.integration

PASSWORDS = {name: f"correct horse battery {name}" for name in ("alice", "bob", "carol", "dave", "erin")}
BAD_LOGIN = "correct username and password"
UNAVAILABLE = "directory is unavailable"


@pytest.fixture(scope="module")
def dstack():
    yield from start_domain_stack("strata-domain-")


@pytest.fixture(scope="module")
def people(dstack):
    """alice (eng, with contact details), bob (eng), carol, dave and erin; groups eng and api."""
    ok(
        dstack,
        "users",
        "add",
        "alice",
        "--first-name",
        "Alice",
        "--last-name",
        "Liddell",
        "--email",
        "alice@example.org",
        "--phone",
        "+1 555 0101",
        "--fax",
        "+1 555 0102",
        "--title",
        "Engineer",
        "--department",
        "Research",
        "--password-stdin",
        stdin=PASSWORDS["alice"] + "\n",
    )
    for name in ("bob", "carol", "dave", "erin"):
        ok(
            dstack,
            "users",
            "add",
            name,
            "--last-name",
            name.title(),
            "--password-stdin",
            stdin=PASSWORDS[name] + "\n",
        )
    ok(dstack, "groups", "add", "eng")
    ok(dstack, "groups", "add", "api")
    ok(dstack, "groups", "add-member", "eng", "alice")
    ok(dstack, "groups", "add-member", "eng", "bob")
    return dstack


def login(stack, username: str, password: str | None = None) -> Client:
    c = Client(stack.url, stack.ca)
    resp = c.login(username, password if password is not None else PASSWORDS[username])
    assert resp.status == 200, text_of(resp.text)[:300]
    assert "/people/" in resp.url, text_of(resp.text)[:300]
    return c


def user_state(stack, name: str) -> dict:
    return stack.call(in_site.user_state, name)


# --- the server ------------------------------------------------------------------------------------


def test_domain_role_is_healthy_and_the_app_link_binds(dstack):
    roles = {r.role: r for r in health.roles_report(dstack.config, dstack.secrets)}
    assert roles["domain"].state == "ok"
    assert "cn=strata-app" in roles["domain"].detail
    links = {(x.source, x.target): x for x in health.links_report(dstack.config, dstack.secrets)}
    assert links[("app", "domain")].state == "ok"
    inst = dstack.config.app_instances()[0]
    body = get_healthz(inst.host.address, inst.port)
    assert body["status"] == "ok"
    assert body["checks"]["domain"] == {
        **body["checks"]["domain"],
        "ok": True,
        "critical": False,
    }


def test_slapd_runs_as_openldap_with_private_key_and_data(dstack):
    pid = Supervisor(dstack.config.var_dir).pid("domain")
    uid = os.stat(f"/proc/{pid}").st_uid
    assert pwd.getpwuid(uid).pw_name == "openldap"
    var = dstack.config.var_dir
    key = (var / "pki" / "domain.key").stat()
    assert stat.S_IMODE(key.st_mode) == 0o600
    assert pwd.getpwuid(key.st_uid).pw_name == "openldap"
    data = (var / "data" / "domain").stat()
    assert stat.S_IMODE(data.st_mode) == 0o700
    assert pwd.getpwuid(data.st_uid).pw_name == "openldap"
    conf = var / "etc" / "domain" / "slapd.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert dstack.secrets["ldap_admin_password"] not in conf.read_text()  # only its salted hash


def test_anonymous_may_only_bind_and_simple_binds_need_tls(dstack, people):
    port = dstack.config.roles["domain"]["port"]
    t = tree(dstack.config)
    plain = ldap.initialize(f"ldap://127.0.0.1:{port}")
    plain.set_option(ldap.OPT_NETWORK_TIMEOUT, 3)
    with pytest.raises(ldap.CONFIDENTIALITY_REQUIRED):  # no password in clear text
        plain.simple_bind_s(t.person("alice"), PASSWORDS["alice"])
    with pytest.raises(ldap.LDAPError) as refused:  # `require authc`: nothing before a bind
        plain.search_s(t.people, ldap.SCOPE_SUBTREE, "(uid=*)")
    assert not isinstance(refused.value, ldap.SERVER_DOWN)
    plain.unbind_s()
    # Over TLS: a DN with an empty password is an unauthenticated bind, refused.
    with pytest.raises((ldap.UNWILLING_TO_PERFORM, ldap.INVALID_CREDENTIALS)):
        bind_as(dstack, t.person("alice"), "")
    with pytest.raises(ldap.INVALID_CREDENTIALS):
        bind_as(dstack, t.person("alice"), "wrong")
    with pytest.raises(ldap.INVALID_CREDENTIALS):
        bind_as(dstack, t.person("nobody"), "wrong")


def test_passwords_are_stored_hashed(dstack, people):
    attrs = person_attrs(dstack, "alice")
    stored = attrs["userPassword"][0]
    # slapd 2.5.13 stores two trailing NUL bytes after the encoded hash; binds still verify it.
    assert stored.startswith(b"{ARGON2}$argon2")
    assert PASSWORDS["alice"].encode() not in stored


def test_acls_app_reads_person_reads_self_only_admin_and_writer_write(dstack, people):
    t = tree(dstack.config)
    app = bind_as(dstack, t.app, dstack.secrets["ldap_app_password"])
    try:
        found = app.search_s(t.people, ldap.SCOPE_ONELEVEL, "(uid=alice)", ["mail", "userPassword"])
        assert found[0][1]["mail"] == [b"alice@example.org"]
        assert "userPassword" not in found[0][1]
        assert app.search_s(t.groups, ldap.SCOPE_ONELEVEL, "(cn=eng)", ["cn"])
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            app.modify_s(t.person("alice"), [(ldap.MOD_REPLACE, "title", [b"Boss"])])
    finally:
        app.unbind_s()
    alice = bind_as(dstack, t.person("alice"), PASSWORDS["alice"])
    try:
        own = alice.search_s(t.person("alice"), ldap.SCOPE_BASE, "(objectClass=*)", ["mail", "memberOf"])
        assert own[0][1]["memberOf"] == [t.group("eng").encode()]
        with pytest.raises(ldap.NO_SUCH_OBJECT):  # another person's entry is invisible to her
            alice.search_s(t.person("bob"), ldap.SCOPE_BASE, "(objectClass=*)")
        with pytest.raises(ldap.NO_SUCH_OBJECT):  # so are the groups
            alice.search_s(t.groups, ldap.SCOPE_ONELEVEL, "(cn=*)")
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            alice.modify_s(t.person("alice"), [(ldap.MOD_REPLACE, "title", [b"Boss"])])
    finally:
        alice.unbind_s()
    writer = bind_as(dstack, t.writer, dstack.secrets["ldap_writer_password"])
    try:
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):  # the web admin's account cannot mint services
            writer.add_s(t.service("rogue"), [("objectClass", [b"account"]), ("uid", [b"rogue"])])
    finally:
        writer.unbind_s()


# --- login and mirroring ---------------------------------------------------------------------------


def test_directory_login_mirrors_attributes_profile_and_groups(people):
    c = login(people, "alice")
    page = text_of(c.get("/people/alice/").text)
    assert "Alice Liddell" in page
    assert "+1 555 0102" in page
    assert "Research" in page
    state = user_state(people, "alice")
    assert state == {
        "first": "Alice",
        "last": "Liddell",
        "email": "alice@example.org",
        "active": True,
        "usable": False,
        "groups": ["eng"],
        "phone": "+1 555 0101",
        "fax": "+1 555 0102",
        "title": "Engineer",
        "department": "Research",
    }


def test_directory_people_cannot_edit_details_the_directory_owns(people):
    c = login(people, "alice")
    page = c.get("/people/me/edit/")
    assert page.status == 200
    assert "come from the organisation's directory" in page.text
    resp = c.post(
        "/people/me/edit/",
        {
            "first_name": "Mallory",
            "last_name": "Liddell",
            "email": "alice@example.org",
            "phone": "",
            "fax": "",
            "title": "Engineer",
            "department": "Research",
        },
    )
    assert resp.status == 403
    assert user_state(people, "alice")["first"] == "Alice"
    assert "Change password" not in c.get("/people/").text  # their password lives in the directory


def test_a_change_in_the_directory_reaches_the_profile_at_the_next_login(people):
    conn = admin_ldap(people)
    try:
        conn.modify_s(tree(people.config).person("dave"), [(ldap.MOD_REPLACE, "title", [b"Navigator"])])
    finally:
        conn.unbind_s()
    login(people, "dave")
    assert user_state(people, "dave")["title"] == "Navigator"


def test_removal_from_a_group_takes_effect_at_the_next_sync(people):
    login(people, "bob")
    assert user_state(people, "bob")["groups"] == ["eng"]
    # Changed in the directory by another tool: the database is behind until the sync.
    conn = admin_ldap(people)
    try:
        conn.modify_s(
            tree(people.config).group("eng"),
            [(ldap.MOD_DELETE, "member", [tree(people.config).person("bob").encode()])],
        )
    finally:
        conn.unbind_s()
    assert user_state(people, "bob")["groups"] == ["eng"]
    out = ok(people, "domain", "sync")
    assert out.startswith("synced ")
    assert "1 changed" in out
    assert user_state(people, "bob")["groups"] == []
    ok(people, "groups", "add-member", "eng", "bob")
    assert user_state(people, "bob")["groups"] == ["eng"]


def test_disabling_a_person_ends_their_sessions_and_refuses_login(people):
    c = login(people, "carol")
    assert c.get("/people/").status == 200
    assert ok(people, "users", "disable", "carol") == "disabled carol; ended 1 session(s)"
    nxt = Client(people.url, people.ca, follow=False)
    nxt.jar = c.jar
    resp = nxt.get("/people/")
    assert resp.status == 302
    assert "/accounts/login/" in resp.headers["Location"]
    again = Client(people.url, people.ca).login("carol", PASSWORDS["carol"])
    assert "/accounts/login/" in again.url
    assert BAD_LOGIN in again.text
    assert user_state(people, "carol")["active"] is False
    assert "userPassword" not in person_attrs(people, "carol")
    reset_lockouts(people)


def test_a_person_deleted_from_the_directory_is_deactivated_at_sync(people):
    c = login(people, "erin")
    conn = admin_ldap(people)
    try:
        conn.delete_s(tree(people.config).person("erin"))
    finally:
        conn.unbind_s()
    assert c.get("/people/").status == 200  # until the sync
    out = ok(people, "domain", "sync")
    assert "1 deactivated, 1 session(s) ended" in out
    assert "/accounts/login/" in c.get("/people/").url
    assert user_state(people, "erin")["active"] is False


def test_page_requests_make_no_ldap_operations(people):
    c = login(people, "alice")
    first = ldap_operations(people)
    second = ldap_operations(people)
    reading = second - first  # what one read of the counters costs (StartTLS, bind, search, unbind)
    assert reading > 0
    pages = ["/people/", "/people/alice/", "/people/?q=liddell", "/people/bob/", "/people/me/edit/"] * 10
    for path in pages:
        assert c.get(path).status == 200, path
    after = ldap_operations(people)
    assert after - second == reading, f"{after - second - reading} LDAP operations for {len(pages)} pages"
    # The counter does see the app's traffic: one login is a StartTLS, a bind and a read.
    login(people, "bob")
    assert ldap_operations(people) - after >= reading + 3


# --- bad input -------------------------------------------------------------------------------------

INJECTIONS = [
    "*",
    "alice*",
    "*)(uid=*",
    "alice)(|(uid=*",
    "(uid=*)",
    "alice\\2a",
    "\\",
    "alice,ou=people",
    "uid=alice",
    "alice=",
    "ali\x00ce",
    "a" * 5000,
]
# What the login form says: one message for any name and password it cannot accept.
REFUSED = (
    BAD_LOGIN,
    "Null characters are not allowed",
    "at most 150 characters",
    "at most 256 characters",
    "This field is required",
)


def test_injection_and_oversized_usernames_are_refused_without_ldap_traffic(people):
    before = ldap_operations(people)
    reading = ldap_operations(people) - before
    before = ldap_operations(people)
    for name in INJECTIONS:
        c = Client(people.url, people.ca)
        resp = c.login(name, PASSWORDS["alice"])
        assert resp.status == 200, repr(name)
        assert "/accounts/login/" in resp.url, repr(name)
        assert any(m in resp.text for m in REFUSED), repr(name)
        assert c.cookie("sessionid") is None
        reset_lockouts(people)
    # Empty and huge passwords for a real person: refused before any bind.
    for password in ("", "x" * 5000):
        resp = Client(people.url, people.ca).login("alice", password)
        assert resp.status == 200
        assert "/accounts/login/" in resp.url
        assert any(m in resp.text for m in REFUSED)
    assert ldap_operations(people) - before == reading
    reset_lockouts(people)


def test_cli_refuses_bad_names_and_passwords_in_one_line(people):
    for name in ("a*b", "x(y)", "back\\slash", "com,ma", "eq=ual", "a" * 65, ""):
        proc = strata(people, "users", "add", name, "--password-stdin", stdin="long enough password 1\n")
        assert proc.returncode == 2
        assert proc.stderr.startswith("strata: ")
        assert proc.stderr.count("\n") == 1
    proc = strata(people, "users", "add", "frank", "--password-stdin", stdin="\n")
    assert proc.returncode == 2
    assert "password is empty" in proc.stderr
    proc = strata(people, "users", "add", "frank", "--password-stdin", stdin="x" * 300 + "\n")
    assert proc.returncode == 2
    assert "longer than" in proc.stderr
    proc = strata(people, "users", "add", "alice", "--password-stdin", stdin="long enough password 1\n")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr
    proc = strata(people, "groups", "add-member", "no-such-group", "alice")
    assert (proc.returncode, proc.stderr) == (2, "strata: unknown group 'no-such-group'\n")
    proc = strata(people, "groups", "add-member", "eng", "nobody")
    assert proc.returncode == 2
    assert "unknown user or service 'nobody'" in proc.stderr
    proc = strata(people, "users", "passwd", "nobody", "--password-stdin", stdin="long enough password 1\n")
    assert (proc.returncode, proc.stderr) == (2, "strata: unknown user 'nobody'\n")
    assert person_attrs(people, "frank") is None


def test_csv_import_is_all_or_nothing_and_names_the_bad_rows(people, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "username,password,first_name,email\n"
        "gina,correct horse battery gina,Gina,gina@example.org\n"
        "hank,correct horse battery hank,Hank\n"
        "gina,correct horse battery gin2,Gina,gina2@example.org\n"
        "i*an,correct horse battery ian,Ian,ian@example.org\n"
        "alice,correct horse battery alic,Al,al@example.org\n"
    )
    proc = strata(people, "users", "import", str(bad))
    assert proc.returncode == 2
    assert "nothing imported" in proc.stderr
    for row in (
        "row 3: expected 4 fields",
        "row 4: duplicate username 'gina' (also row 2)",
        "row 5: username",
    ):
        assert row in proc.stderr, row
    assert person_attrs(people, "gina") is None
    assert person_attrs(people, "hank") is None
    existing = tmp_path / "existing.csv"
    existing.write_text(
        "username,password\ngina,correct horse battery gina\nalice,correct horse battery x1\n"
    )
    proc = strata(people, "users", "import", str(existing))
    assert proc.returncode == 2
    assert "row 3: user 'alice' already exists" in proc.stderr
    assert person_attrs(people, "gina") is None
    good = tmp_path / "good.csv"
    good.write_text(
        "username,password,first_name,last_name,department\n"
        "gina,correct horse battery gina,Gina,Gray,Sales\n"
        "hank,correct horse battery hank,Hank,Hill,Sales\n"
    )
    assert ok(people, "users", "import", str(good)) == "imported 2 user(s)"
    assert user_state(people, "hank")["department"] == "Sales"
    login(people, "gina", "correct horse battery gina")
    assert strata(people, "users", "import", str(tmp_path / "missing.csv")).returncode == 2


# --- service accounts and tokens -------------------------------------------------------------------


def api(stack, path: str, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(stack.url + path, headers=headers)
    ctx = ssl.create_default_context(cafile=str(stack.ca))
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_service_account_uses_the_api_by_group_and_a_revoked_token_stops_working(people):
    assert (
        ok(
            people,
            "services",
            "add",
            "backup-bot",
            "--description",
            "nightly export",
            "--password-stdin",
            stdin="service password for backup 1\n",
        )
        == "added service backup-bot"
    )
    t = tree(people.config)
    bind_as(people, t.service("backup-bot"), "service password for backup 1").unbind_s()  # it can bind
    token = ok(people, "tokens", "issue", "--service", "backup-bot", "--label", "nightly")
    assert token.startswith("strata_")
    status, body = api(people, "/api/v1/me", token)
    assert status == 200
    assert (body["kind"], body["name"], body["groups"]) == ("service", "backup-bot", [])
    status, body = api(people, "/api/v1/people/", token)
    assert status == 403
    assert "'api'" in body["error"]
    ok(people, "groups", "add-member", "api", "backup-bot")
    status, body = api(people, "/api/v1/people/?q=liddell", token)
    assert status == 200
    assert [p["username"] for p in body["people"]] == ["alice"]
    assert body["people"][0]["fax"] == "+1 555 0102"
    # Removed from the group in the directory: refused after the next sync.
    ok(people, "groups", "remove-member", "api", "backup-bot")
    assert api(people, "/api/v1/people/", token)[0] == 403
    ok(people, "groups", "add-member", "api", "backup-bot")
    prefix = token.split("_")[1]
    assert ok(people, "tokens", "revoke", prefix) == f"revoked token {prefix}"
    status, body = api(people, "/api/v1/people/", token)
    assert status == 401
    assert "revoked" in body["error"]
    assert api(people, "/api/v1/me", None)[0] == 401
    assert api(people, "/api/v1/me", "strata_deadbeef_forged")[0] == 401


def test_a_person_token_works_until_the_person_is_disabled(people):
    ok(people, "users", "add", "ivan", "--password-stdin", stdin="correct horse battery ivan\n")
    ok(people, "groups", "add-member", "api", "ivan")
    token = ok(people, "tokens", "issue", "--user", "ivan")
    status, body = api(people, "/api/v1/me", token)
    assert status == 200
    assert body == {**body, "kind": "person", "name": "ivan", "groups": ["api"]}
    assert api(people, "/api/v1/people/", token)[0] == 200
    ok(people, "users", "disable", "ivan")
    assert api(people, "/api/v1/people/", token)[0] == 401


# --- brute force -----------------------------------------------------------------------------------


def test_login_limits_hold_per_pair_not_per_account_until_an_admin_lifts_them(people):
    reset_lockouts(people)
    try:
        for _ in range(5):
            resp = Client(people.url, people.ca).login("DAVE", "wrong password")  # case does not matter
            assert resp.status == 200
            assert BAD_LOGIN in resp.text
        # The pair (dave, this address) now waits, even with the right password; Retry-After says how long.
        locked = Client(people.url, people.ca).login("dave", PASSWORDS["dave"])
        assert locked.status == 429
        assert "Too many failed logins" in locked.text
        assert int(locked.headers["Retry-After"]) >= 1
        # Not the account from elsewhere, not other accounts from here.
        login(people, "alice")
        assert "/people/" in client_from(people, "127.0.0.2").login("dave", PASSWORDS["dave"]).url
        proc = strata(people, "users", "unlock", "dave", "--address", "127.0.0.1")
        assert proc.returncode == 0, proc.stderr
        login(people, "dave")
    finally:
        reset_lockouts(people)


# --- the web admin --------------------------------------------------------------------------------


def test_admins_manage_the_directory_from_the_web_through_the_write_limited_account(people):
    admin = Client(people.url, people.ca)
    assert "/people/" in admin.login(*people.admin).url
    assert admin.get("/accounts/directory/").status == 200
    resp = admin.post(
        "/accounts/directory/",
        {
            "op": "add_user",
            "add_user-username": "judy",
            "add_user-password": "correct horse battery judy",
            "add_user-first_name": "Judy",
            "add_user-last_name": "Hopps",
            "add_user-email": "judy@example.org",
        },
    )
    assert resp.status == 200
    assert "added user judy" in resp.text
    assert person_attrs(people, "judy")["mail"] == [b"judy@example.org"]
    assert person_attrs(people, "judy")["creatorsName"] == [tree(people.config).writer.encode()]
    resp = admin.post(
        "/accounts/directory/", {"op": "add_member", "add_member-group": "eng", "add_member-member": "judy"}
    )
    assert resp.status == 200
    assert user_state(people, "judy")["groups"] == ["eng"]
    for data, message in (
        (
            {"op": "add_user", "add_user-username": "j*dy", "add_user-password": "correct horse battery x"},
            "may hold only",
        ),
        ({"op": "add_member", "add_member-group": "nope", "add_member-member": "judy"}, "unknown group"),
        ({"op": "drop_tables"}, "Unknown operation"),
    ):
        resp = admin.post("/accounts/directory/", data)
        assert resp.status == 400, message
        assert message in resp.text, message
    assert person_attrs(people, "j*dy") is None
    login(people, "judy", "correct horse battery judy")
    # Not for people who are not admins; not without CSRF.
    judy = login(people, "judy", "correct horse battery judy")
    assert judy.get("/accounts/directory/").status == 403
    no_csrf = admin.request(
        "POST",
        "/accounts/directory/",
        {"op": "add_group", "add_group-group": "x"},
        headers={"Origin": people.url, "Referer": people.url + "/"},
    )
    assert no_csrf.status == 403


# --- the directory goes down (last: it stops slapd) ------------------------------------------------


def test_directory_down_login_answers_fast_sessions_live_on_emergency_admin_works(people):
    sup = Supervisor(people.config.var_dir)
    existing = login(people, "alice")
    sup.stop("domain")
    try:
        start = time.monotonic()
        resp = Client(people.url, people.ca).login("bob", PASSWORDS["bob"])
        elapsed = time.monotonic() - start
        assert resp.status == 503, elapsed
        assert UNAVAILABLE in resp.text, elapsed
        assert elapsed < 3, elapsed
        assert existing.get("/people/alice/").status == 200
        admin = Client(people.url, people.ca)
        assert "/people/" in admin.login(*people.admin).url
        assert admin.get("/status/").status == 200
        inst = people.config.app_instances()[0]
        body = get_healthz(inst.host.address, inst.port)
        assert body["status"] == "degraded"
        assert body["checks"]["domain"]["ok"] is False
        proc = strata(people, "groups", "add", "ops")
        assert proc.returncode == 1
        assert "directory unavailable" in proc.stderr
        roles = {r.role: r.state for r in health.roles_report(people.config, people.secrets)}
        assert roles["domain"] == "down"
    finally:
        sup.start("domain")
        reset_lockouts(people)
    deadline = time.monotonic() + 20
    while {r.role: r.state for r in health.roles_report(people.config, people.secrets)}["domain"] != "ok":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    login(people, "bob")


def test_strata_drill_domain_down(dstack, tmp_path):
    result = drill(dstack, tmp_path, "domain-down")["domain-down"]
    assert result["measured"]["login_not_503"] == 0  # the new login was refused with a 503
    assert result["measured"]["failed"] == 0  # the people already in went on working
    assert result["requests"] > 10
    assert Supervisor(dstack.config.var_dir).is_running("domain")  # put back
