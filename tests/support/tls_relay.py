"""A loopback relay from plain TCP to a TLS server: for clients built on neon (litmus, cadaver), which
trust only the system's CA store, never a test stack's own CA. The relay verifies the stack's certificate
against its CA, so every byte still reaches nginx over verified TLS."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path


def _serve(conn: socket.socket, host: str, port: int, ctx: ssl.SSLContext) -> None:
    """Carry bytes both ways in one thread (an SSL socket must not be read and written concurrently)."""
    with conn, ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host) as upstream:
        peer = {conn: upstream, upstream: conn}
        while True:
            ready = [upstream] if upstream.pending() else select.select([conn, upstream], [], [], 600)[0]
            if not ready:
                return
            for src in ready:
                try:
                    data = src.recv(256 * 1024)
                except OSError:
                    return
                if not data:
                    return
                peer[src].sendall(data)


@contextlib.contextmanager
def tls_relay(host: str, port: int, ca: Path) -> Iterator[str]:
    """Relay 127.0.0.1:<free port> to HOST:PORT over TLS verified with CA; yield "http://127.0.0.1:<port>"."""
    ctx = ssl.create_default_context(cafile=str(ca))
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn, host, port, ctx), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
