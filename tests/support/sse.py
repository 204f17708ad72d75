"""A small Server-Sent Events client for tests and benchmarks: one stream, read event by event."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Event:
    id: int
    kind: str
    data: dict


class Stream:
    """GET an event stream (through nginx over HTTPS with CAFILE, or straight to an event server over HTTP)
    with the session cookie SESSION; events() yields what arrives."""

    def __init__(
        self,
        host: str,
        port: int,
        session: str,
        *,
        cafile: Path | None = None,
        last_event_id: int | None = None,
        timeout: float = 30,
        host_header: str = "",
    ):
        if cafile is not None:
            context = ssl.create_default_context(cafile=str(cafile))
            self.conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=context
            )
        else:
            self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"Cookie": f"sessionid={session}", "Accept": "text/event-stream"}
        if host_header:
            headers["Host"] = host_header
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/events/", headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers

    def next(self) -> Event | None:
        """Return the next event (comments and retry lines skipped), or None when the stream ended."""
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if not text:
                if "event" in fields or "data" in fields:
                    return Event(
                        int(fields.get("id", "0")),
                        fields.get("event", "message"),
                        json.loads(fields.get("data") or "{}"),
                    )
                fields = {}
                continue
            if text.startswith(":"):
                continue
            name, _, value = text.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value

    def until(self, kind: str, limit: int = 50) -> Event:
        """Return the next event of KIND (skipping others, at most LIMIT); fail if the stream ends first."""
        for _ in range(limit):
            event = self.next()
            if event is None:
                raise AssertionError(f"the stream ended before a {kind!r} event")
            if event.kind == kind:
                return event
        raise AssertionError(f"no {kind!r} event among the next {limit}")

    def close(self) -> None:
        self.conn.close()
