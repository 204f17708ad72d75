"""The WSGI application behind /dav/: Strata's checks in front of WsgiDAV.

In order: HTTPS (as nginx says), paths no client may send (encoded slashes, NUL, "." and ".."
segments), request bodies other than a PUT's bounded to MAX_XML, the caller's address (X-Forwarded-For,
trusted from nginx only), the login
(strata.dav.auth), PROPFIND with Depth: infinity refused (RFC 4918 9.1), and GET of a file answered with
X-Accel-Redirect like every download (nginx carries the bytes). Everything else is WsgiDAV's, over
strata.dav.provider. Django's request_started/request_finished signals frame each request, so its
database connections are handled as for a page.
"""

from __future__ import annotations

import io
import re
import urllib.parse
from collections.abc import Iterable

from django.conf import settings
from django.core import signals
from wsgidav import util
from wsgidav.dav_error import DAVError, get_http_status_string
from wsgidav.error_printer import ErrorPrinter
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from strata.accounts.principal import ServicePrincipal
from strata.deploy.roles.web.spec import DAV_MAX_XML
from strata.files import actions
from strata.files.http import content_response

from . import auth
from .locks import DatabaseLockManager, DatabaseLockStorage
from .props import DatabasePropertyManager
from .provider import FileResource, StrataProvider, dav_errors

PREFIX = "/dav"
MAX_XML = DAV_MAX_XML  # bytes of a PROPFIND, PROPPATCH or LOCK body (nginx refuses longer ones first)
READ_METHODS = ("GET", "HEAD", "OPTIONS", "PROPFIND")  # all a service account may send
BAD_RAW_PATH = re.compile(r"%(2f|5c|00)", re.IGNORECASE)

FINITE_DEPTH = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n'
    "<!-- PROPFIND with Depth: infinity is not served: ask with Depth: 1, folder by folder. -->\n"
)


def wsgidav_config() -> dict:
    """Return WsgiDAV's configuration: Strata's provider, locks and properties in the database."""
    return {
        "provider_mapping": {PREFIX: StrataProvider()},
        "lock_storage": DatabaseLockStorage(),
        "property_manager": DatabasePropertyManager(),
        # Authentication happens before WsgiDAV (auth.basic_login); no directory listing pages.
        "middleware_stack": [ErrorPrinter, RequestResolver],
        "http_authenticator": {"domain_controller": None, "accept_basic": False, "accept_digest": False},
        "dir_browser": {"enable": False},
        "block_size": 256 * 1024,
        "verbose": 1,
        "logging": {"enable": False},
        "suppress_version_info": True,
    }


def _plain(start_response, status: int, message: str, headers: Iterable[tuple[str, str]] = ()):
    body = (message + "\n").encode()
    start_response(
        get_http_status_string(status),
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


class DavGate:
    """The /dav/ application."""

    def __init__(self) -> None:
        self.dav = WsgiDAVApp(wsgidav_config())
        self.provider: StrataProvider = self.dav.provider_map[PREFIX]
        # WsgiDAV builds its own LockManager from the storage; LOCK must be atomic across app servers.
        self.dav.lock_manager = DatabaseLockManager(self.dav.lock_manager.storage)
        self.provider.set_lock_manager(self.dav.lock_manager)
        self.trusted = frozenset(settings.STRATA_WEB_ADDRESSES)

    def __call__(self, environ: dict, start_response):
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            body = self.handle(environ, start_response)
        except BaseException:
            signals.request_finished.send(sender=self.__class__)
            raise
        return _Closing(body, lambda: signals.request_finished.send(sender=self.__class__))

    def handle(self, environ: dict, start_response):
        refusal = self.refuse_request(environ)
        if refusal is not None:
            return _plain(start_response, *refusal)
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded and environ.get("REMOTE_ADDR") in self.trusted:
            environ["REMOTE_ADDR"] = forwarded.rsplit(",", 1)[-1].strip()
        user = auth.basic_login(environ)
        if isinstance(user, auth.Refusal):
            return _plain(start_response, user.status, user.message, user.headers)
        destination = urllib.parse.urlsplit(environ.get("HTTP_DESTINATION", ""))
        if destination.netloc and destination.netloc.lower() == environ.get("HTTP_HOST", "").lower():
            # Same host: keep the path only, whatever scheme the client saw (nginx ends TLS before us).
            environ["HTTP_DESTINATION"] = destination.path
        environ["strata.user"] = user
        environ["wsgidav.auth.user_name"] = user.get_username()
        environ["wsgidav.auth.realm"] = auth.REALM
        method = environ["REQUEST_METHOD"]
        if isinstance(user, ServicePrincipal) and method not in READ_METHODS:
            return _plain(start_response, 403, "A service account reads the drive; it cannot change it.")
        if method == "PROPFIND":
            depth = environ.get("HTTP_DEPTH", "").strip().lower()
            if depth == "infinity":
                body = FINITE_DEPTH.encode()
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml; charset=utf-8"), ("Content-Length", str(len(body)))],
                )
                return [body]
            if not depth:
                environ["HTTP_DEPTH"] = "1"  # RFC 4918 says infinity; every drive client sends a depth
        if method == "GET":
            environ["wsgidav.provider"] = self.provider
            # PATH_INFO holds the path's UTF-8 bytes as latin-1 (PEP 3333); WsgiDAV decodes its own copy.
            path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")
            res = self.provider.get_resource_inst(path[len(PREFIX) :], environ)
            if isinstance(res, FileResource):
                return self.download(environ, start_response, res)
        return self.dav(environ, start_response)

    def refuse_request(self, environ: dict) -> tuple[int, str] | None:
        """Return (status, message) for a request refused before the login, else None."""
        secure = environ.get("wsgi.url_scheme") == "https" or (
            environ.get("REMOTE_ADDR") in self.trusted and environ.get("HTTP_X_FORWARDED_PROTO") == "https"
        )
        if not secure and settings.SECURE_SSL_REDIRECT:
            return 403, "WebDAV is served over HTTPS only."
        raw = environ.get("RAW_URI", "")
        path = environ.get("PATH_INFO", "")
        if BAD_RAW_PATH.search(raw) or "\x00" in path or "\\" in path:
            return 400, "Paths cannot contain encoded slashes or backslashes, or NUL."
        if any(seg in (".", "..") for seg in path.split("/")):
            return 400, "Paths cannot contain “.” or “..” segments."
        if environ["REQUEST_METHOD"] != "PUT":
            return self.bound_body(environ)
        return None

    def bound_body(self, environ: dict) -> tuple[int, str] | None:
        """Refuse a body (XML) larger than MAX_XML; read a chunked one up to that bound."""
        too_big = 413, f"Request bodies other than a PUT's are limited to {MAX_XML} bytes."
        length = environ.get("CONTENT_LENGTH") or ""
        if length:
            if not length.isdigit():
                return 400, "Content-Length must be a number."
            return too_big if int(length) > MAX_XML else None
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            data = environ["wsgi.input"].read(MAX_XML + 1)
            if len(data) > MAX_XML:
                return too_big
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
        return None

    def download(self, environ: dict, start_response, res: FileResource):
        """Answer GET of a file like the download path: checks here, bytes through nginx."""
        f = res.file
        try:
            util.evaluate_http_conditionals(res, res.get_last_modified(), res.get_etag(), environ)
            with dav_errors():
                uri, content_type, disposition = actions.drive_target(res.user, f, address=res.address)
        except DAVError as err:
            if err.value == 304:
                start_response("304 Not Modified", [("ETag", f'"{res.get_etag()}"')])
                return [b""]
            return _plain(start_response, err.value, err.context_info or get_http_status_string(err.value))
        response = content_response(uri, content_type, disposition)
        headers = [(k, v) for k, v in response.items()]
        headers += [
            ("ETag", f'"{res.get_etag()}"'),
            ("Last-Modified", util.get_rfc1123_time(res.get_last_modified())),
        ]
        start_response("200 OK", headers)
        return [b""]


class _Closing:
    """Wrap a WSGI body so that ON_CLOSE runs once the server is done with it."""

    def __init__(self, body, on_close):
        self.body, self.on_close = body, on_close

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.on_close()
