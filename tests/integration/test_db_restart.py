"""A PostgreSQL restart under a running stack: 503 with Retry-After while it is down, recovery by itself.

One stack (PostgreSQL, two gunicorn instances, nginx) for the module. PostgreSQL is stopped through the
stack's supervisor, as an operator or a crash would; nothing else is touched to bring the site back.
"""

from __future__ import annotations

import re

import pytest

from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client, text_of
from tests.support.stack import running_stack
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


def test_db_outage_answers_503_then_the_site_recovers_by_itself(stack):
    ada = Client(stack.url, stack.ca)
    assert "/accounts/login/" not in ada.login("ada", PASSWORD).url
    for i in range(3):
        send(ada, f"before the outage {i}")
    committed = stack.call(in_site.messaging_rows, "Message")
    assert committed == 3

    sup = Supervisor(stack.config.var_dir)
    sup.stop("db")
    try:
        assert not sup.is_running("db")
        # Enough requests to reach both app instances (and every worker's pool) more than once.
        for path in PAGES:
            resp = ada.get(path)
            assert resp.status == 503, (path, resp.status, resp.text[:300])
            assert int(resp.headers["Retry-After"]) > 0
            assert "cannot reach its database" in text_of(resp.text)
        api = ada.get("/api/files/")
        assert api.status == 503, (api.status, api.text[:300])
        assert "cannot reach its database" in api.text
    finally:
        sup.start("db")

    # No restart of gunicorn, no manual step: the pools reconnect on their own.
    wait_for(lambda: ada.get("/people/").status == 200, timeout=60, what="the directory after the restart")
    for path in PAGES:  # every instance and worker, not only the first to reconnect
        resp = ada.get(path)
        assert resp.status == 200, (path, resp.status, resp.text[:300])
    assert "/accounts/login/" not in resp.url  # still logged in: the session outlived the outage
    assert stack.call(in_site.messaging_rows, "Message") == committed
    send(ada, "after the outage")
    assert stack.call(in_site.messaging_rows, "Message") == committed + 1
