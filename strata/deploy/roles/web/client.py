"""nginx's health over HTTPS, verified against the site's CA (no deployer machinery here)."""

from __future__ import annotations

import http.client
import ssl

from strata.deploy.roles.probe import Health, timed


def tls_context(cafile) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def probe(config, secrets, host) -> Health:
    """GET /-/ping over HTTPS, verifying the certificate against the site's CA."""
    cafile = config.var_dir / "pki" / "ca.crt"

    def check():
        conn = http.client.HTTPSConnection(
            host.address, config.roles["web"]["https_port"], timeout=3, context=tls_context(cafile)
        )
        try:
            conn.request("GET", "/-/ping", headers={"Host": config.site["domain"]})
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
        return f"HTTPS ok ({resp.getheader('Server', 'nginx')})"

    return timed(check)
