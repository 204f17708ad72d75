"""What a TLS server presents: the certificate nginx (or any listener) serves, read from a real handshake."""

from __future__ import annotations

import socket
import ssl

from cryptography import x509


def served_certificate(
    address: str,
    port: int,
    server_hostname: str | None = None,
    *,
    cafile: str | None = None,
    cadata: str | None = None,
) -> x509.Certificate:
    """Return the certificate served on ADDRESS:PORT for SERVER_HOSTNAME (SNI; None: no SNI).

    With CAFILE or CADATA the chain is verified (the name too, when SERVER_HOSTNAME is given); without, the
    certificate is only read, for tests that compare it byte for byte.
    """
    if cafile or cadata:
        context = ssl.create_default_context(cafile=cafile, cadata=cadata)
        context.check_hostname = server_hostname is not None
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((address, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=server_hostname) as tls_sock,
    ):
        der = tls_sock.getpeercert(binary_form=True)
    assert der, f"{address}:{port} presented no certificate"
    return x509.load_der_x509_certificate(der)
