"""The radio stand-in with station-port moves over netlink (``l3roam.kernel.portmove``).

Same moves as ``l3roam.testbed.air.Air`` (the station port leaves the old AP's
namespace, joins the new AP's cell bridge as an isolated port, comes up), but
without starting ``ip`` processes: an experiment in a user-mode Linux guest
uses it, where a process start costs ~0.1 s and would otherwise make every
move take 150-600 ms instead of a few.
"""

from __future__ import annotations

from l3roam.testbed.air import Air
from l3roam.testbed.builder import Testbed
from l3roam.testbed.plan import AIR
from l3roam.testbed.topology import CELL_BRIDGE


class NetlinkAir(Air):
    def __init__(self, testbed: Testbed, gap: float = 0.0):
        super().__init__(testbed, gap)
        from l3roam.kernel.portmove import PortMover

        self._mover = PortMover()
        for node in (*self.topo.aps, AIR):
            self._mover.warm(self.tb.ns(node))

    def _hand(self, client: str, src: str, dst: str) -> None:
        self._mover.hand(self.topo.client(client).port, self.tb.ns(src), self.tb.ns(dst),
                         None if dst == AIR else CELL_BRIDGE)

    def close(self) -> None:
        self._mover.close()
