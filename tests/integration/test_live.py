"""Live updates end to end: the event server (uvicorn, program `events`) behind nginx, fed by PostgreSQL
LISTEN/NOTIFY. One stack with two app instances, plus a second event server started here on the same
database (as a second app host's would be), so a write must reach streams held on either."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from strata.deploy.config import ENV_SECRETS
from strata.deploy.roles.app.client import get_events_health
from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.client import Client
from tests.support.sse import Stream
from tests.support.stack import REPO, add_people, free_ports, running_stack
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery "


@pytest.fixture(scope="module")
def stack():
    with running_stack("strata-live-", instances=2) as s:
        add_people(
            s,
            [
                dict(username=u, password=PASSWORD + u, first_name=first, last_name="Live")
                for u, first in [("lv_ann", "Ann"), ("lv_bob", "Bob")]
            ],
        )
        yield s


@pytest.fixture(scope="module")
def second_events(stack):
    """Another event server on the stack's database (what a second app host runs); yield its port."""
    (port,) = free_ports(1)
    ctx = stack.ctx()
    env = {**os.environ, **ctx.django_env(), ENV_SECRETS: str(stack.config.app_secrets_path)}
    command = [os.path.join(os.path.dirname(sys.executable), "uvicorn"), "strata.live.server:application"]
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _listening("127.0.0.1", port), timeout=30, what="the second event server")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _listening(address: str, port: int) -> bool:
    try:
        return bool(get_events_health(address, port, timeout=2)["listening"])
    except (OSError, RuntimeError):
        return False


def login(stack, username: str) -> Client:
    c = Client(stack.url, stack.ca)
    assert "/accounts/login/" not in c.login(username, PASSWORD + username).url
    return c


def through_nginx(stack, client: Client, **kw) -> Stream:
    port = stack.config.roles["web"]["https_port"]
    return Stream("localhost", port, client.cookie("sessionid") or "", cafile=stack.ca, **kw)


def until_ready(stream: Stream) -> list:
    """Return the events a stream sends before its "ready" (a replay)."""
    out = []
    while (event := stream.next()) is not None and event.kind != "ready":
        out.append(event)
    assert event is not None, "the stream ended before its ready event"
    return out


def test_a_write_reaches_streams_on_every_event_server(stack, second_events):
    ann, bob = login(stack, "lv_ann"), login(stack, "lv_bob")
    via_web = through_nginx(stack, bob)
    direct = Stream("127.0.0.1", second_events, bob.cookie("sessionid") or "")
    try:
        assert via_web.status == direct.status == 200
        assert via_web.headers["Content-Type"].startswith("text/event-stream")
        via_web.until("ready"), direct.until("ready")
        # Written by an app server (through nginx)...
        resp = ann.post("/messages/new/", {"to": "lv_bob", "subject": "Plums", "body": "Plums today?"})
        conv = int(resp.url.rstrip("/").rsplit("/", 1)[-1])
        for stream in (via_web, direct):
            event = stream.until("message")
            assert event.data["conversation"] == conv
            assert event.data["from"] == "Ann Live"
            assert event.data["text"] == "Plums today?"
            assert event.data["unread"] == 1
        # ...and by another process altogether: only the database connects them.
        stack.call(in_site.post_reply, "lv_ann", conv, "Or pears")
        for stream in (via_web, direct):
            event = stream.until("message")
            assert (event.data["text"], event.data["unread"]) == ("Or pears", 2)
        # Reading the conversation tells the person's other pages their new unread count.
        bob.get(f"/messages/c/{conv}/")
        assert via_web.until("unread").data == {"unread": 0}
    finally:
        via_web.close(), direct.close()


def test_a_reconnect_with_last_event_id_replays_what_was_missed(stack):
    ann, bob = login(stack, "lv_ann"), login(stack, "lv_bob")
    first = through_nginx(stack, bob)
    seen = first.until("ready").id
    first.close()
    conv = stack.call(in_site.start_conversation, "lv_ann", "lv_bob", "Missed", "one")
    stack.call(in_site.post_reply, "lv_ann", conv, "two")
    again = through_nginx(stack, bob, last_event_id=seen)
    try:
        replayed = until_ready(again)
        # (A replay may also resend the last seconds' events below Last-Event-ID: pages drop those.)
        assert [e.data["text"] for e in replayed if e.data.get("conversation") == conv] == ["one", "two"]
        assert all(e.id > seen for e in replayed if e.data.get("conversation") == conv)
    finally:
        again.close()
    # Ann got no event for her own messages.
    mine = through_nginx(stack, ann, last_event_id=seen)
    try:
        assert mine.until("ready").data == {}
    finally:
        mine.close()


def test_after_an_event_server_restart_a_stream_resumes_where_it_stopped(stack):
    bob = login(stack, "lv_bob")
    stream = through_nginx(stack, bob)
    seen = stream.until("ready").id
    sup = Supervisor(stack.config.var_dir)
    sup.stop("events")
    try:
        assert stream.next() is None  # the server went away: the stream ended
        # Writes go on while no event server runs; the events wait in the table.
        conv = stack.call(in_site.start_conversation, "lv_ann", "lv_bob", "", "while you were away")
    finally:
        sup.start("events")
    wait_for(
        lambda: _listening("127.0.0.1", stack.config.roles["app"]["events_port"]), timeout=30, what="events"
    )
    again = through_nginx(stack, bob, last_event_id=seen)
    try:
        replayed = [e.data["text"] for e in until_ready(again) if e.data.get("conversation") == conv]
        assert replayed == ["while you were away"]
    finally:
        again.close()


def test_streams_need_a_session_and_the_probe_stays_inside(stack):
    port = stack.config.roles["web"]["https_port"]
    anonymous = Stream("localhost", port, "nosuchsession", cafile=stack.ca)
    assert anonymous.status == 403
    anonymous.close()
    c = Client(stack.url, stack.ca)
    assert c.get("/events/healthz").status == 404
    health = get_events_health("127.0.0.1", stack.config.roles["app"]["events_port"])
    assert health["listening"] is True


def test_old_events_are_pruned(stack):
    stack.call(in_site.start_conversation, "lv_ann", "lv_bob", "", "soon gone")
    assert stack.call(in_site.prune_all_events) > 0
    assert stack.call(in_site.prune_all_events) == 0
