"""The radio stand-in: which AP a client is associated with, and moves between APs.

Technique (docs/testbed.md has the evaluation): a client namespace holds
``wlan0``, one end of a veth pair; the other end, the *station port*
``sta-<client>``, lives in the namespace of the AP the client is associated
with, as an isolated port of the AP's ``cell0`` bridge.  A move hands the
station port to the new AP's namespace (``ip link set … netns``) and enslaves
it there.  What each side sees, as with a Wi-Fi re-association:

- the old AP: its station port disappears (RTM_DELLINK): "disassociated";
- the new AP: a new port appears in ``cell0`` and comes up (RTM_NEWLINK),
  with the station's MAC as its alias: "associated";
- the client: carrier drops and returns on the same ``wlan0`` (same name,
  MAC and address); its kernel flushes its neighbour cache, like a phone.

With ``gap > 0`` the port waits in the ``air`` namespace (down, no AP) between
the two, emulating time out of range or a slow scan.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from l3roam.log import event
from l3roam.testbed.builder import Testbed, run_cmd
from l3roam.testbed.plan import AIR, associate_actions
from l3roam.testbed.schedule import Move

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MoveRecord:
    """When a move happened (wall clock, ``time.time()``, comparable with probe timestamps)."""

    client: str
    src: str
    dst: str
    t_start: float  # the old AP lost the station
    t_end: float  # the new AP has it, up in its cell


class Air:
    def __init__(self, testbed: Testbed, gap: float = 0.0):
        self.tb = testbed
        self.topo = testbed.topo
        self.gap = gap  # default seconds without any AP per move

    def where(self, client: str) -> str | None:
        """The AP holding the client's station port, or None (in the air)."""
        port = self.topo.client(client).port
        for ap in self.topo.aps:
            out = subprocess.run(["ip", "-n", self.tb.ns(ap), "link", "show", port], capture_output=True)
            if out.returncode == 0:
                return ap
        return None

    def _hand(self, client: str, src: str, dst: str) -> None:
        for cmd in associate_actions(self.topo, client, src, dst):
            run_cmd(cmd.argv, stdin=cmd.stdin)

    def move(self, client: str, dst: str, gap: float | None = None, src: str | None = None) -> MoveRecord:
        """Move ``client`` to AP ``dst``; ``src`` saves a lookup when the caller knows it."""
        gap = self.gap if gap is None else gap
        if dst not in self.topo.aps:
            raise ValueError(f"{dst} is not an access point")
        origin = src or self.where(client) or AIR
        t_start = time.time()
        holder = origin
        if gap > 0 and origin != AIR:
            self._hand(client, origin, AIR)
            time.sleep(gap)
            holder = AIR
        self._hand(client, holder, dst)
        rec = MoveRecord(client, origin, dst, t_start, time.time())
        event(log, "client_moved", client=client, src=rec.src, dst=dst,
              ms=f"{(rec.t_end - rec.t_start) * 1000:.1f}")
        return rec

    def run(self, moves: list[Move], gap: float | None = None,
            on_move: Callable[[MoveRecord], None] | None = None) -> list[MoveRecord]:
        """Carry out a schedule; times in ``moves`` are offsets from now."""
        t0 = time.monotonic()
        records = []
        for mv in moves:
            delay = t0 + mv.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            rec = self.move(mv.client, mv.dst, gap=gap, src=mv.src)
            records.append(rec)
            if on_move:
                on_move(rec)
        return records
