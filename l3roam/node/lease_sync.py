"""What this node knows of the master's leases, for roaming while the master is silent.

The roaming machine may serve an arriving client without the master's
confirmation only with a (MAC, address) pair the master gave out and that has
not ended (docs/node.md, "While the master is unreachable").  This node learns
such pairs from the master's own answers (binds, claims) and, every
``period`` seconds while the master answers, from its whole lease table
(LIST, 40 leases a page, one page in flight).  Nothing here is trusted that
did not come authenticated from the master.
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Address

from l3roam.log import event
from l3roam.proto.control import Field, MessageType

log = logging.getLogger("l3roam.node")
BOUND = 2  # LeaseState.BOUND
PAGE = 40


class KnownLeases:
    def __init__(self, master, period: float, on_synced=None):
        self.master = master
        self.period = period  # 0: no sync, only what answers carry
        self.on_synced = on_synced  # called with no argument after each complete sync
        self.leases: dict[str, tuple[IPv4Address, float, int]] = {}  # mac -> (ip, expires, seq)
        self._next = 0.0
        self._busy = False
        self._fresh: dict[str, tuple[IPv4Address, float, int]] = {}

    def learn(self, mac: str, ip: IPv4Address | None, expires: float, seq: int = 0) -> None:
        if ip is not None and expires > 0:
            old = self.leases.get(mac)
            self.leases[mac] = (ip, expires, max(seq, old[2] if old else 0))

    def forget(self, mac: str) -> None:
        """The lease ended here (released, declined): not known any more."""
        self.leases.pop(mac, None)

    def pairs(self, now: float) -> dict[IPv4Address, str]:
        """Address -> MAC of every unexpired lease known here (the latest ending wins a clash)."""
        best: dict[IPv4Address, tuple[float, str]] = {}
        for mac, (ip, expires, _seq) in self.leases.items():
            if expires > now and (ip not in best or expires > best[ip][0]):
                best[ip] = (expires, mac)
        return {ip: mac for ip, (_e, mac) in best.items()}

    def get(self, mac: str, now: float) -> tuple[IPv4Address, float, int] | None:
        got = self.leases.get(mac)
        return got if got is not None and got[1] > now else None

    def tick(self, now: float) -> None:
        if self.period <= 0 or self._busy or now < self._next:
            return
        self._busy, self._fresh = True, {}
        self._page(0)

    def _page(self, offset: int) -> None:
        def answered(ans, offset=offset) -> None:
            now = self.master.clock()
            if ans is None or not ans.ok:
                self._busy, self._next = False, now + min(self.period, 10.0)  # try again sooner
                return
            entries = ans.fields.get(Field.ENTRY, [])
            for e in entries:
                if e.get(Field.STATE) == BOUND and e.get(Field.IP) is not None:
                    self._fresh[str(e[Field.MAC])] = (e[Field.IP], int(e.get(Field.EXPIRES, 0)) / 1000,
                                                      int(e.get(Field.SEQ, 0)))
            total = int(ans.fields.get(Field.TOTAL, 0))
            if entries and offset + len(entries) < total:
                self._page(offset + len(entries))
                return
            self.leases = {m: v for m, v in self.leases.items() if v[1] > now and m not in self._fresh}
            self.leases.update(self._fresh)
            self._busy, self._next = False, now + self.period
            event(log, "leases_synced", level=logging.DEBUG, known=len(self.leases))
            if self.on_synced is not None:
                self.on_synced()

        self.master.send(MessageType.LIST, {Field.OFFSET: offset, Field.COUNT: PAGE}, answered)
