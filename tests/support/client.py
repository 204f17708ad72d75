"""A small HTTPS client for end-to-end tests: cookies, CSRF, and the site's own CA."""

from __future__ import annotations

import http.client
import http.cookiejar
import ipaddress
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    url: str
    headers: object
    text: str


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def loopback_for(base: str) -> str:
    """Return the address a *.localhost name (the content host on one machine) leads to for a site at BASE:
    its address when BASE names one (the lab), else 127.0.0.1. Browsers resolve *.localhost to loopback
    themselves (RFC 6761); Python's resolver may not."""
    host = urllib.parse.urlsplit(base).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return host


class LocalhostHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that reaches *.localhost names at ADDRESS, with the name in SNI and checked in
    the certificate as usual."""

    def __init__(self, host, port=None, *, address: str = "127.0.0.1", **kw):
        super().__init__(host, port, **kw)

        def create(addr, *args, **kwargs):
            return socket.create_connection(
                (address if _is_localhost(addr[0]) else addr[0], addr[1]), *args, **kwargs
            )

        self._create_connection = create


def fetch(url: str, ca, address: str, headers: dict | None = None, method: str = "GET"):
    """Request URL (on the content host) as a browser following a redirect does: no cookie; return
    (status, [(header, value)...], body)."""
    u = urllib.parse.urlsplit(url)
    conn = LocalhostHTTPSConnection(
        u.hostname, u.port, address=address, timeout=60, context=ssl.create_default_context(cafile=str(ca))
    )
    try:
        conn.request(method, f"{u.path}?{u.query}" if u.query else u.path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def follow(status: int, headers, ca, address: str, request_headers: dict | None = None, method: str = "GET"):
    """Follow a download's redirect to the content host the way a browser does (the Range header kept, no
    cookie); return (status, [(header, value)...], body) of where it led, or None when STATUS is not a
    redirect."""
    location = dict((k.lower(), v) for k, v in headers).get("location") if status in (302, 303) else None
    if not location:
        return None
    kept = {k: v for k, v in (request_headers or {}).items() if k.lower() == "range"}
    return fetch(location, ca, address, kept, method)


class _LocalhostHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context, address: str):
        super().__init__(context=context)
        self.address = address

    def https_open(self, req):
        return self.do_open(
            lambda host, **kw: LocalhostHTTPSConnection(host, address=self.address, **kw),
            req,
            context=self._context,
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base: str, cafile, follow: bool = True):
        self.base = base.rstrip("/")
        # Host-only cookies stay on their host, as in browsers (Python's default sends them to subdomains).
        self.jar = http.cookiejar.CookieJar(
            http.cookiejar.DefaultCookiePolicy(
                strict_ns_domain=http.cookiejar.DefaultCookiePolicy.DomainStrictNonDomain
            )
        )
        ctx = ssl.create_default_context(cafile=str(cafile))
        self.ca = cafile
        self.address = loopback_for(base)
        handlers = [_LocalhostHTTPSHandler(ctx, self.address), urllib.request.HTTPCookieProcessor(self.jar)]
        if not follow:
            handlers.append(_NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None):
        url = path if path.startswith("http") else self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=15) as resp:
                return Response(resp.status, resp.url, resp.headers, resp.read().decode())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, url, exc.headers, exc.read().decode(errors="replace"))

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def post(self, path: str, data: dict) -> Response:
        """POST a form the way a browser does: CSRF token from the cookie, Origin and Referer set."""
        if self.cookie("csrftoken") is None:
            self.get(path)
        data = {"csrfmiddlewaretoken": self.cookie("csrftoken"), **data}
        return self.request("POST", path, data, headers={"Origin": self.base, "Referer": self.base + path})

    def login(self, username: str, password: str) -> Response:
        self.get("/accounts/login/")
        return self.post("/accounts/login/", {"username": username, "password": password})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
