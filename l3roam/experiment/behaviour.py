"""What a client does after a move, when it is not talking all the time (scenario key ``client``).

``silent``: nothing; ``later``: one UDP datagram to the server
``talk_delay`` seconds after the move (the kernel first resolves the
gateway with ARP, so the mesh sees the station's MAC then).  For both, the
client's IPv6 is switched off on its radio interface: otherwise the kernel
sends router solicitations and MLD reports whenever the carrier returns,
which would speak for the client at once.

Side effects: a sysctl and a UDP socket in the client's namespace, a timer thread.
"""

from __future__ import annotations

import socket
import threading

from l3roam.kernel.nsthread import NamespaceThread
from l3roam.testbed.builder import Testbed
from l3roam.testbed.topology import CLIENT_IFNAME

DISCARD_PORT = 9


class QuietClient:
    def __init__(self, tb: Testbed, client: str, server_ip: str, delay: float):
        self.server_ip = server_ip
        self.delay = delay
        self.sent = 0
        tb.exec(client, ["sysctl", "-qw", f"net.ipv6.conf.{CLIENT_IFNAME}.disable_ipv6=1"])
        self._thread = NamespaceThread(tb.ns(client), name=f"quiet-{client}")
        self._sock: socket.socket = self._thread.run(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        self._timers: list[threading.Timer] = []

    def talk(self) -> None:
        try:
            self._sock.sendto(b"l3roam: client talks after the move", (self.server_ip, DISCARD_PORT))
            self.sent += 1
        except OSError:
            pass  # no route yet: the client tried, as an application would

    def talk_later(self) -> None:
        t = threading.Timer(self.delay, self.talk)
        t.daemon = True
        t.start()
        self._timers.append(t)

    def close(self) -> None:
        for t in self._timers:
            t.cancel()
        self._sock.close()
        self._thread.stop()
