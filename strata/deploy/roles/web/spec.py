"""The web role's facts: nginx in front of everything (see role.py for how it runs, tls.py for its
public certificate)."""

from __future__ import annotations

import urllib.parse

from strata.deploy.roles.spec import Link, OptionError, OptionPackages, Port, RoleSpec, is_ip

# Where the public certificate comes from (roles.web.tls): the site's own CA (one machine, the lab),
# files the admin names, or an ACME CA through certbot (HTTP-01 through nginx itself).
TLS_SOURCES = ("site-ca", "files", "acme")
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
# Which options each source needs; any other of them set is a mistake the reader reports.
TLS_OPTIONS = {
    "site-ca": (),
    "files": ("cert_file", "key_file"),
    "acme": ("acme_email", "acme_directory", "acme_ca_file"),
}
TLS_REQUIRED = {"files": ("cert_file", "key_file"), "acme": ("acme_email",)}
# The largest body of a WebDAV request other than a PUT (XML: PROPFIND, PROPPATCH, LOCK), in bytes: nginx
# refuses a longer one itself, and the app (strata/dav) checks it again.
DAV_MAX_XML = 1024 * 1024


def _check_url(key: str, value: str) -> None:
    url = urllib.parse.urlsplit(value)
    if url.scheme != "https" or not url.hostname or not value.isprintable() or " " in value:
        raise OptionError(key, f"expected an https:// URL of an ACME directory: {value!r}")


def _check_tls(options) -> None:
    """Check the public certificate's source and the options it needs (and only those)."""
    source = options["tls"]
    if source not in TLS_SOURCES:
        raise OptionError(SPEC.key("tls"), f"expected one of {', '.join(TLS_SOURCES)}, got {source!r}")
    for source_name, keys in TLS_OPTIONS.items():
        for key in keys:
            if source_name != source and options[key] != SPEC.options[key][1]:
                raise OptionError(SPEC.key(key), f'only used with tls = "{source_name}" (tls is "{source}")')
    for key in TLS_REQUIRED.get(source, ()):
        if not options[key]:
            raise OptionError(SPEC.key(key), f'required with tls = "{source}"')
    if source == "files" and options["cert_file"] == options["key_file"]:
        raise OptionError(SPEC.key("key_file"), "must differ from roles.web.cert_file")
    if source == "acme":
        _check_url(SPEC.key("acme_directory"), options["acme_directory"])


def content_host(config) -> str:
    """Return the host name people's file bytes are served from: roles.web.content_host, or
    content.<site.domain> (content.localhost on one machine)."""
    return config.roles["web"]["content_host"] or f"content.{config.site['domain']}"


def _check_content_host(config) -> None:
    """The content host is a name of its own: never the site's, never an address."""
    domain = config.site["domain"]
    host = content_host(config).lower().rstrip(".")
    if is_ip(host) or host == "localhost":
        raise OptionError(SPEC.key("content_host"), f"expected a host name, not {host!r}")
    if host == domain.lower().rstrip("."):
        raise OptionError(SPEC.key("content_host"), f"must differ from site.domain ({domain})")


def validate(config) -> None:
    options = config.roles["web"].options
    SPEC.check_range(options, "workers", 1, 64)
    _check_tls(options)
    _check_content_host(config)
    if options["tls"] == "acme":
        domain = config.site["domain"]
        if "." not in domain.strip(".") or is_ip(domain):
            raise OptionError(
                "site.domain", f'an ACME CA (tls = "acme") needs a public DNS name, not {domain!r}'
            )
        if options["http_port"] != 80 and not options["acme_ca_file"]:
            # RFC 8555 8.3: the CA fetches the token from port 80; only a test CA (pebble) lets it differ.
            raise OptionError(
                SPEC.key("http_port"),
                f'tls = "acme": the CA checks HTTP-01 on port 80, not {options["http_port"]} '
                f"(only a test CA, with acme_ca_file, may use another)",
            )
        if len(config.roles["web"].hosts) != 1:
            # HTTP-01: the CA fetches the token from whichever web host the name leads to.
            raise OptionError(SPEC.key("hosts"), 'tls = "acme" needs exactly one web host')
    # The files' contents (PEM, the key matching the certificate, site.domain covered) are checked on the
    # web host, where they are: tls.check_files(), called by the role's prepare().


SPEC = RoleSpec(
    name="web",
    required=True,
    multi_host=True,
    options={
        "http_port": (int, 18080),
        "https_port": (int, 18443),
        "workers": (int, 2),
        "tls": (str, "site-ca"),
        "cert_file": (str, ""),
        "key_file": (str, ""),
        "acme_email": (str, ""),
        "acme_directory": (str, LETS_ENCRYPT),
        "acme_ca_file": (str, ""),
        # People's file bytes come from this name only (its own origin); "" = content.<site.domain>.
        "content_host": (str, ""),
        # With the monitor role: prometheus-nginx-exporter's port (the monitor host only), and the
        # loopback-only listener of nginx's stub_status it reads.
        "metrics_port": (int, 18162),
        "status_port": (int, 18163),
    },
    ports=(
        Port("http_port"),
        Port("https_port"),
        Port("metrics_port", with_role="monitor"),
        Port("status_port", with_role="monitor"),
    ),
    validate=validate,
    links=(
        Link("web", "app", "proxied requests"),
        Link("web", "files", "file bytes after the app authorised them"),
    ),
    depends_on=("app",),
    # prometheus-nginx-exporter: its metrics, with the monitor role.
    packages=("nginx", "prometheus-nginx-exporter"),
    option_packages=(OptionPackages("tls", "acme", ("certbot",)),),
    kinds={
        "tls": "name",  # one of TLS_SOURCES, checked by validate()
        "cert_file": "absolute_path",
        "key_file": "absolute_path",
        "acme_email": "email",
        "acme_directory": "url",
        "acme_ca_file": "absolute_path",
        "content_host": "host_name",
    },
)
