"""The radio stand-in: which AP a client is associated with, and moves between APs.

Wiring (built by ``l3roam.testbed.plan``; docs/testbed.md has the evaluation):
the client namespace holds ``wlan0``, one end of a veth pair whose other end
sits in the ``air`` namespace, in a bridge of its own (one per client).  For
every AP the client has a second veth pair: one end is the *station port*
``sta-<client>``, an isolated port of that AP's ``cell0`` bridge with the
station's MAC as its alias; the other end is a port of the client's bridge
in the air.  The client is associated with the AP whose air end is up; the
other APs' station ports have no carrier.

A move is done through netlink in the air namespace (no process started):

- ``carrier-kept`` (default; what an 802.11r/FT roam or a re-association in
  one ESS looks like to the client): the old AP's air end goes down, the new
  AP's comes up.  The old AP sees its station port lose carrier
  ("disassociated"), the new AP sees its port come up ("associated"); the
  client's ``wlan0`` never loses carrier and keeps its neighbour cache.
- ``carrier-lost`` (disassociate, re-associate): the client's own air end
  goes down first, so ``wlan0`` loses carrier (its kernel flushes its
  neighbour cache, some DHCP clients re-probe), the AP ports switch, ``gap``
  seconds pass with no AP at all, then the client's carrier returns.

``MoveRecord`` carries the move's own duration (``t_end - t_start``).
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from l3roam.errors import ExternalToolError
from l3roam.kernel.nsthread import NamespaceThread
from l3roam.log import event
from l3roam.testbed.builder import Testbed
from l3roam.testbed.plan import radio_names
from l3roam.testbed.schedule import Move

log = logging.getLogger(__name__)

ROAM_MODELS = ("carrier-kept", "carrier-lost")


@dataclass(frozen=True)
class MoveRecord:
    """When a move happened (wall clock, ``time.time()``, comparable with probe timestamps)."""

    client: str
    src: str
    dst: str
    t_start: float  # the old AP is about to lose the station
    t_end: float  # the new AP has it (and, carrier-lost, the client has carrier again)


def _set_links(ipr, changes: list[tuple[str, bool]], cache: dict[str, int]) -> None:
    for name, up in changes:
        idx = cache.get(name)
        if idx is None:
            found = ipr.link_lookup(ifname=name)
            if not found:
                raise ExternalToolError(f"no interface {name} in the air namespace")
            idx = cache[name] = found[0]
        ipr.link("set", index=idx, state="up" if up else "down")


class Air:
    """Moves clients between APs; ``close()`` (or ``with``) ends its netlink thread."""

    def __init__(self, testbed: Testbed, model: str = "carrier-kept", gap: float = 0.0):
        if model not in ROAM_MODELS:
            raise ValueError(f"unknown roam model {model!r} ({', '.join(ROAM_MODELS)})")
        if gap < 0 or (gap > 0 and model != "carrier-lost"):
            raise ValueError("a time without AP (gap) needs the carrier-lost roam model")
        self.tb = testbed
        self.topo = testbed.topo
        self.model = model
        self.gap = gap
        self._ns: NamespaceThread | None = None
        self._ipr = None
        self._index: dict[str, int] = {}

    def __enter__(self) -> "Air":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ns is not None:
            if self._ipr is not None:
                self._ns.run(self._ipr.close)
            self._ns.stop()
        self._ns = self._ipr = None

    def _open(self) -> None:
        if self._ns is None:
            from pyroute2 import IPRoute

            self._ns = NamespaceThread(self.tb.air, name="l3roam-air")
            self._ipr = self._ns.run(IPRoute)
            # every index known before the first move, so no move pays for a lookup
            for link in self._ns.run(lambda ipr: list(ipr.get_links()), self._ipr):
                self._index[link.get_attr("IFLA_IFNAME")] = link["index"]

    def _netlink(self, changes: list[tuple[str, bool]]) -> None:
        self._open()
        self._ns.run(_set_links, self._ipr, changes, self._index)

    def where(self, client: str) -> str | None:
        """The AP the client is associated with, or None (no AP)."""
        names = radio_names(self.topo, client)
        out = subprocess.run(["ip", "-j", "-n", self.tb.air, "link", "show"], capture_output=True, text=True)
        up = {link["ifname"] for link in json.loads(out.stdout or "[]") if "UP" in link.get("flags", [])}
        for ap, end in names.ap_ends.items():
            if end in up:
                return ap
        return None

    def move(self, client: str, dst: str, src: str | None = None) -> MoveRecord:
        """Move ``client`` to AP ``dst``; ``src`` saves a lookup when the caller knows it."""
        if dst not in self.topo.aps:
            raise ValueError(f"{dst} is not an access point")
        names = radio_names(self.topo, client)
        origin = src if src is not None else self.where(client)
        leave = [(names.ap_ends[origin], False)] if origin else []
        self._open()  # not part of the move's duration
        t_start = time.time()
        if self.model == "carrier-kept":
            self._netlink(leave + [(names.ap_ends[dst], True)])
        else:
            self._netlink([(names.client_end, False)] + leave)
            if self.gap > 0:
                time.sleep(self.gap)
            self._netlink([(names.ap_ends[dst], True), (names.client_end, True)])
        rec = MoveRecord(client, origin or "-", dst, t_start, time.time())
        event(log, "client_moved", client=client, src=rec.src, dst=dst, model=self.model,
              ms=f"{(rec.t_end - rec.t_start) * 1000:.2f}")
        return rec

    def run(self, moves: list[Move], on_move: Callable[[MoveRecord], None] | None = None) -> list[MoveRecord]:
        """Carry out a schedule; times in ``moves`` are offsets from now."""
        t0 = time.monotonic()
        records = []
        for mv in moves:
            delay = t0 + mv.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            rec = self.move(mv.client, mv.dst, src=mv.src)
            records.append(rec)
            if on_move:
                on_move(rec)
        return records
