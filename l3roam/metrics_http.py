"""A tiny HTTP responder for ``/metrics`` that lives in a daemon's own selector loop.

Non-blocking accept and read; the answer (Prometheus text, a few KB) is
written with a short timeout.  Only ``GET /metrics`` is served; anything else
is a 404.  Side effects: sockets only.
"""

from __future__ import annotations

import selectors
import socket
from typing import Callable


class MetricsHttp:
    def __init__(self, host: str, port: int, render: Callable[[], str], sel: selectors.BaseSelector):
        self.render = render
        self.sel = sel
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        sel.register(self.sock, selectors.EVENT_READ, self)

    def on_readable(self, fileobj) -> None:
        """Call for any selector key whose data is this object."""
        if fileobj is self.sock:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.sel.register(conn, selectors.EVENT_READ, self)
            return
        self._serve(fileobj)

    def _serve(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
            if data and b"\r\n" not in data:
                return  # wait for the request line
            if data:
                parts = data.split(b" ", 2)
                path = parts[1] if len(parts) > 2 else b"/"
                if parts[0] == b"GET" and path.startswith(b"/metrics"):
                    body = self.render().encode()
                    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                else:
                    body, head = b"not found\n", b"HTTP/1.0 404 Not Found\r\n"
                conn.setblocking(True)
                conn.settimeout(1.0)
                conn.sendall(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        except OSError:
            pass
        finally:
            self.sel.unregister(conn)
            conn.close()

    def close(self) -> None:
        for key in list(self.sel.get_map().values()):
            if key.data is self:
                self.sel.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
