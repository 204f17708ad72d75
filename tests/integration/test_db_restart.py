"""Sessions across app servers, and a PostgreSQL restart under a running stack.

One stack (PostgreSQL, two gunicorn instances of two workers, nginx) for the module. Sessions and users
are served from each worker's memory (strata.site.live): a logout or a password change on one must be
seen by every other at once. PostgreSQL is stopped through the stack's supervisor, as an operator or a
crash would: pages answer 503 with Retry-After, and nothing is touched to bring the site back.
"""

from __future__ import annotations

import contextlib
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from strata.deploy.roles.db.client import app_connection
from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client, text_of
from tests.support.stack import drill, running_stack
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery ada"
# Pages that need the database on every request (the session, the user, the rows they show).
PAGES = ["/people/", "/people/ada/", "/files/", "/messages/", "/people/", "/messages/"]


@pytest.fixture(scope="module")
def stack():
    with running_stack("strata-dbrestart-") as st:
        st.call(
            in_site.save_people,
            [
                {"username": name, "password": PASSWORD if name == "ada" else "x" * 20, "details": {}}
                for name in ("ada", "alan")
            ],
        )
        yield st


def send(c: Client, subject: str) -> int:
    resp = c.post("/messages/new/", {"to": "alan", "subject": subject, "body": "kept"})
    found = re.search(r"/messages/c/(\d+)/", resp.url)
    assert found, (resp.status, resp.url, resp.text[:300])
    return int(found.group(1))


def twin(stack, c: Client) -> Client:
    """Return another client holding C's cookies: the same session used from elsewhere."""
    other = Client(stack.url, stack.ca, follow=False)
    for cookie in c.jar:
        other.jar.set_cookie(cookie)
    return other


def served_everywhere(c: Client, rounds: int = 8) -> list[int]:
    """GET the directory ROUNDS times (nginx spreads them over both instances and their workers)."""
    return [c.get("/people/").status for _ in range(rounds)]


def test_logout_and_password_change_are_seen_by_every_app_server_at_once(stack):
    ada = Client(stack.url, stack.ca)
    assert "/accounts/login/" not in ada.login("ada", PASSWORD).url
    elsewhere = twin(stack, ada)
    assert served_everywhere(elsewhere) == [200] * 8  # every worker now holds the session and the user
    assert ada.post("/accounts/logout/", {}).status == 200
    assert served_everywhere(elsewhere) == [302] * 8  # to the login page, on every worker

    assert "/accounts/login/" not in ada.login("ada", PASSWORD).url
    elsewhere = twin(stack, ada)
    assert served_everywhere(elsewhere) == [200] * 8
    stack.call(in_site.set_password, "ada", PASSWORD)  # a new hash (new salt): old sessions end
    assert served_everywhere(elsewhere) == [302] * 8


def badges(c: Client, rounds: int = 8) -> set[str]:
    """Return the unread badges the nav showed over ROUNDS pages (every worker holds its own copy)."""
    found = set()
    for _ in range(rounds):
        resp = c.get("/people/")
        assert resp.status == 200, resp.status
        found.add(re.search(r"data-unread-badge[^>]*>(\d*)<", resp.text).group(1))
    return found


def test_unread_badge_follows_new_messages_on_every_app_server(stack):
    alan, ada = Client(stack.url, stack.ca), Client(stack.url, stack.ca)
    assert "/accounts/login/" not in alan.login("alan", "x" * 20).url
    assert "/accounts/login/" not in ada.login("ada", PASSWORD).url
    before = badges(alan)
    assert len(before) == 1  # every worker agrees
    send(ada, "a new message")
    (after,) = badges(alan)
    assert int(after) == int(before.pop() or 0) + 1


def close_idle_app_connections(stack) -> int:
    """End, from the server side, every idle connection of the app's user but the LISTENers (as a
    PostgreSQL restart ends them, without the outage); return how many."""
    with contextlib.closing(app_connection(stack.config, stack.secrets)) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = current_user"
            " AND pid <> pg_backend_pid() AND state = 'idle' AND query NOT ILIKE 'LISTEN%'"
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def test_connections_the_server_closed_while_idle_fail_no_request(stack):
    ada = Client(stack.url, stack.ca)
    assert "/accounts/login/" not in ada.login("ada", PASSWORD).url
    assert served_everywhere(ada, 16) == [200] * 16  # every worker's pool is open, its connections idle
    # At least two workers' pools (roles.db.pool_size each): each connection fails one request unless
    # the backend (strata.site.database) replaces it before use.
    assert close_idle_app_connections(stack) >= 2 * stack.config.roles["db"]["pool_size"]
    assert served_everywhere(ada, 24) == [200] * 24


def test_db_outage_answers_503_then_the_site_recovers_by_itself(stack):
    ada = Client(stack.url, stack.ca)
    assert "/accounts/login/" not in ada.login("ada", PASSWORD).url
    earlier = stack.call(in_site.messaging_rows, "Message")
    for i in range(3):
        send(ada, f"before the outage {i}")
    committed = stack.call(in_site.messaging_rows, "Message")
    assert committed == earlier + 3

    sup = Supervisor(stack.config.var_dir)
    sup.stop("db")
    try:
        assert not sup.is_running("db")
        # Enough requests to reach both app instances (and most workers). At once: a request on a worker
        # with no connection left waits the pool's timeout (5 s) for one before its 503.
        with ThreadPoolExecutor(len(PAGES) + 1) as pool:
            *pages, api = pool.map(lambda path: twin(stack, ada).get(path), [*PAGES, "/api/files/"])
        for path, resp in zip(PAGES, pages, strict=True):
            assert resp.status == 503, (path, resp.status, resp.text[:300])
            assert int(resp.headers["Retry-After"]) > 0
            assert "cannot reach its database" in text_of(resp.text)
        assert api.status == 503, (api.status, api.text[:300])
        assert "cannot reach its database" in api.text
    finally:
        sup.start("db")

    # No restart of gunicorn, no manual step: the pools reconnect on their own.
    # Every instance and worker, not only the first to reconnect (each pool retries on its own).
    wait_for(
        lambda: all(ada.get(path).status == 200 for path in PAGES * 2),
        timeout=90,
        what="every page on every worker after the restart",
    )
    for path in PAGES:
        resp = ada.get(path)
        assert resp.status == 200, (path, resp.status, resp.text[:300])
    assert "/accounts/login/" not in resp.url  # still logged in: the session outlived the outage
    assert stack.call(in_site.messaging_rows, "Message") == committed
    send(ada, "after the outage")
    assert stack.call(in_site.messaging_rows, "Message") == committed + 1


def test_strata_drill_app_kill_and_db_restart(stack, tmp_path):
    by = drill(stack, tmp_path, "app-kill", "db-restart", seconds=6)
    assert by["app-kill"]["measured"]["failed"] == 0
    assert by["app-kill"]["requests"] > 20  # the load ran while the server was killed and came back
    assert by["db-restart"]["measured"]["answered_503"] > 0  # the outage was seen, and answered 503
    assert by["db-restart"]["measured"]["lost_rows"] == 0
    (report,) = tmp_path.glob("drill-*.md")
    assert "| app-kill |" in report.read_text()
    # The drill made its two people and disabled them afterwards.
    assert len(stack.call(in_site.people_named, "drill-", False)) == 2
    assert stack.call(in_site.people_named, "drill-", True) == []
