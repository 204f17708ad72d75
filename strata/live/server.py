"""The event server: Server-Sent Events at /events/, one uvicorn process per app host (program `events`).

An ASGI application of its own rather than Django's ASGI handler: a stream is open for hours and does
nothing but wait, so it must cost a coroutine, not a thread or a gunicorn worker. Django is used only for
what it already knows: the settings, the session (who is signed in, a read-only lookup) and the Event
table (a replay after a reconnect), all through sync_to_async.

One PostgreSQL connection per process LISTENs on strata.live.actions.CHANNEL; each NOTIFY names its
recipient, and the process hands it to that person's open streams. A stream that reconnects with
Last-Event-ID gets every later event of its person from the table first, so nothing is missed while an
app host restarts. GET /events/healthz (the deployer's probe; nginx hides it) answers 200 while the
LISTEN connection is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from http.cookies import CookieError, SimpleCookie
from importlib import import_module

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "strata.site.settings")
django.setup()

import psycopg  # noqa: E402 - after django.setup(): the settings say where the database is
from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import close_old_connections  # noqa: E402

from strata.live.actions import CHANNEL, events_after  # noqa: E402
from strata.live.models import Event  # noqa: E402

log = logging.getLogger("strata.live")

HEARTBEAT_SECONDS = 15  # a comment line keeps nginx and the browser from timing out an idle stream
RETRY_MS = 1000  # how soon EventSource reconnects after the stream breaks
RESYNC = object()  # put in every queue after the LISTEN connection came back: replay from the table
QUEUE_LIMIT = 1000  # a stream this far behind is resynced from the table instead


def _conninfo() -> dict:
    db = settings.DATABASES["default"]
    options = {k: v for k, v in db.get("OPTIONS", {}).items() if k != "pool"}
    return {
        "host": db["HOST"],
        "port": db["PORT"],
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        **options,
    }


class Hub:
    """The process's LISTEN connection and, per person, the queues of their open streams."""

    def __init__(self) -> None:
        self.subscribers: dict[int, set[asyncio.Queue]] = {}
        self.listening = False
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    def streams(self) -> int:
        return sum(len(qs) for qs in self.subscribers.values())

    def subscribe(self, user_id: int) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.subscribers.setdefault(user_id, set()).add(queue)
        return queue

    def unsubscribe(self, user_id: int, queue: asyncio.Queue) -> None:
        queues = self.subscribers.get(user_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.subscribers[user_id]

    def _put(self, queue: asyncio.Queue, item) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            # Far behind (a stalled reader): drop what is queued, the stream replays from the table.
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(RESYNC)

    def dispatch(self, raw: str) -> None:
        try:
            note = json.loads(raw)
            queues = self.subscribers.get(int(note["r"]), ())
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed notification: %.100r", raw)
            return
        for queue in list(queues):
            self._put(queue, note)

    async def run(self) -> None:
        """LISTEN forever; after a lost connection, reconnect and resync every stream from the table."""
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**_conninfo(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    if not first:
                        for queues in self.subscribers.values():
                            for queue in queues:
                                self._put(queue, RESYNC)
                    first = False
                    log.info("listening on %s", CHANNEL)
                    async for note in conn.notifies():
                        self.dispatch(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be away: say so, retry
                log.warning("LISTEN connection lost (%s); retrying in 1 s", exc)
            self.listening = False
            await asyncio.sleep(1)


HUB = Hub()


def _session_user(session_key: str) -> int | None:
    """Return the id of the active person signed in with SESSION_KEY, else None (reads only)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.utils.crypto import constant_time_compare

    try:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        data = store.load()
        user_id, backend_path = data.get(SESSION_KEY), data.get(BACKEND_SESSION_KEY)
        if user_id is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
            return None
        user = load_backend(backend_path).get_user(user_id)
        if user is None or not user.is_active:
            return None
        # The same check as django.contrib.auth.get_user: a password change ends the other sessions.
        if not constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            return None
        return user.pk
    finally:
        close_old_connections()


def _replay(user_id: int, after: int) -> list[tuple[int, str, dict]]:
    try:
        return [(e.pk, e.kind, e.payload) for e in events_after(user_id, after)]
    finally:
        close_old_connections()


def _latest(user_id: int) -> int:
    try:
        last = Event.objects.filter(recipient_id=user_id).order_by("-id").values_list("id", flat=True).first()
        return last or 0
    finally:
        close_old_connections()


def _one(event_id: int) -> dict:
    try:
        found = Event.objects.filter(pk=event_id).values_list("payload", flat=True).first()
        return found if found is not None else {}
    finally:
        close_old_connections()


def frame(event_id: int, kind: str, payload: dict) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n".encode()


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _last_event_id(scope) -> int | None:
    raw = _header(scope, b"last-event-id")
    if not raw:
        # EventSource sends the header only on its own reconnects; a page may pass what it saw.
        for part in scope.get("query_string", b"").decode("latin-1").split("&"):
            if part.startswith("after="):
                raw = part[6:]
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def _plain(send, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _authenticate(scope) -> int | None:
    try:
        cookies = SimpleCookie(_header(scope, b"cookie"))
    except CookieError:
        return None
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None or not morsel.value.isalnum() or len(morsel.value) > 64:
        return None
    return await sync_to_async(_session_user)(morsel.value)


async def stream(scope, receive, send) -> None:
    user_id = await _authenticate(scope)
    if user_id is None:
        # EventSource gives up on a non-200 answer: a signed-out page stops asking.
        await _plain(send, 403, "Sign in to receive live updates.")
        return
    queue = HUB.subscribe(user_id)  # before reading the table: nothing falls between the two
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode(), "more_body": True}
        )
        sent = Sent()
        last = _last_event_id(scope)
        if last is None:
            last = await sync_to_async(_latest)(user_id)
        else:
            last = await _send_replay(send, user_id, last, sent)
        await send({"type": "http.response.body", "body": frame(last, "ready", {}), "more_body": True})
        await _pump(receive, send, user_id, queue, last, sent)
    finally:
        HUB.unsubscribe(user_id, queue)


class Sent:
    """The ids a stream sent lately (a replay and the live events overlap): each event goes out once."""

    KEEP = 2000

    def __init__(self) -> None:
        self.ids: dict[int, None] = {}

    def first_time(self, event_id: int) -> bool:
        if event_id in self.ids:
            return False
        self.ids[event_id] = None
        if len(self.ids) > self.KEEP:
            del self.ids[next(iter(self.ids))]
        return True


async def _send_replay(send, user_id: int, last: int, sent: Sent) -> int:
    for event_id, kind, payload in await sync_to_async(_replay)(user_id, last):
        if sent.first_time(event_id):
            await send(
                {"type": "http.response.body", "body": frame(event_id, kind, payload), "more_body": True}
            )
        last = max(last, event_id)
    return last


async def _pump(receive, send, user_id: int, queue: asyncio.Queue, last: int, sent: Sent) -> None:
    """Send the person's events as they come, a heartbeat when idle, until the client goes away."""
    gone = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, gone}, timeout=HEARTBEAT_SECONDS, return_when="FIRST_COMPLETED"
            )
            if gone in done:
                getter.cancel()
                return
            if getter not in done:
                getter.cancel()
                await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
                continue
            item = getter.result()
            if item is RESYNC:
                last = await _send_replay(send, user_id, last, sent)
                continue
            event_id = int(item["id"])
            if not sent.first_time(event_id):
                continue  # already sent by a replay
            payload = item["p"] if "p" in item else await sync_to_async(_one)(event_id)
            await send(
                {"type": "http.response.body", "body": frame(event_id, item["k"], payload), "more_body": True}
            )
            last = max(last, event_id)
    finally:
        gone.cancel()


async def _wait_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            HUB.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await HUB.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send) -> None:
    """The ASGI entry point (uvicorn strata.live.server:application)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    HUB.start()
    path, method = scope["path"], scope["method"]
    if method not in ("GET", "HEAD"):
        await _plain(send, 405, "Only GET is allowed here.")
    elif path == "/events/healthz":
        ok = HUB.listening
        body = json.dumps({"ok": ok, "listening": ok, "streams": HUB.streams()})
        await _plain(send, 200 if ok else 503, body, "application/json")
    elif path == "/events/":
        await stream(scope, receive, send)
    else:
        await _plain(send, 404, "Not found.")
