"""``/metrics`` over HTTP in a thread of its own, beside a daemon's selector loop.

prometheus_client's ``MetricsHandler`` on a ``ThreadingHTTPServer``: each
scrape is served in its own thread, so a slow or stuck scraper never holds the
daemon's loop (a connection that sends nothing is dropped after 5 s).  The
only thing the loop does for a scrape is evaluate the gauges (``Registry.
sample``), when the scrape thread wakes it through a socket pair registered
in the loop's selector.  Side effects: sockets and one thread.
"""

from __future__ import annotations

import selectors
import socket
import threading
from http.server import ThreadingHTTPServer

from prometheus_client.exposition import MetricsHandler

from l3roam.metrics import Registry


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MetricsServer:
    def __init__(self, host: str, port: int, registry: Registry, sel: selectors.BaseSelector):
        self.registry = registry
        self.sel = sel
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        sel.register(self._wake_r, selectors.EVENT_READ, self)
        handler = type("Handler", (MetricsHandler,), {"registry": registry.collector_registry,
                                                       "timeout": 5.0})
        server_cls = type("Server6", (_Server,), {"address_family": socket.AF_INET6}) if ":" in host \
            else _Server
        self.httpd = server_cls((host, port), handler)
        self.address = self.httpd.server_address[:2]
        registry.loop_thread = threading.get_ident()
        registry.sampler = self._wake
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="metrics-http", daemon=True)
        self._thread.start()

    def _wake(self, timeout: float) -> bool:  # scrape thread
        try:
            self._wake_w.send(b"s")
        except (BlockingIOError, OSError):
            pass  # already woken (a full pipe) or closing: the loop samples anyway
        return True

    def on_readable(self, fileobj) -> None:  # the daemon's loop
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        self.registry.sample()

    def close(self) -> None:
        self.registry.sampler = None
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)
        try:
            self.sel.unregister(self._wake_r)
        except (KeyError, ValueError):
            pass
        self._wake_r.close()
        self._wake_w.close()
