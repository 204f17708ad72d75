"""A small HTTPS client for end-to-end tests: cookies, CSRF, and the site's own CA."""

from __future__ import annotations

import http.cookiejar
import re
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base: str, cafile, follow: bool = True):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        ctx = ssl.create_default_context(cafile=str(cafile))
        handlers = [urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPCookieProcessor(self.jar)]
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
