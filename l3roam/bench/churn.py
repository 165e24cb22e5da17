"""Lease churn against a master (or a group of them), with faults injected by count.

``churn`` leases ``n`` new MACs (OFFER then BIND) from ``len(clients)``
simulated nodes with ``in_flight`` requests each, retrying every MAC whose
request went unanswered, and calls ``faults[k]()`` once ``k`` leases are
acknowledged.  ``verify`` then asks a master for every MAC: the address
acknowledged, still bound, and no address held twice.  Used by the failover
tests (on loopback and in namespaces); the clients decide which masters they
know.
"""

from __future__ import annotations

import selectors
import time
from dataclasses import dataclass, field
from typing import Callable

from l3roam.master.client import MasterClient
from l3roam.proto.control import Field, LeaseOp, MessageType


@dataclass
class ChurnResult:
    macs: list[str]
    acked: dict[str, object] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)  # time.monotonic()
    fault_at: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    def first_ack_after(self, t: float) -> float | None:
        later = [s for s in self.acked_at.values() if s > t]
        return min(later) - t if later else None


def macs_for(n: int, tag: int = 0x20) -> list[str]:
    return [f"02:{tag:02x}:00:00:{i >> 8:02x}:{i & 0xff:02x}" for i in range(n)]


def churn(clients: list[MasterClient], macs: list[str], faults: dict[int, Callable[[], None]],
          in_flight: int = 5, deadline_s: float = 120.0) -> ChurnResult:
    res = ChurnResult(list(macs))
    todo = list(reversed(macs))
    inflight: set[str] = set()

    def start(c: MasterClient, mac: str) -> None:
        inflight.add(mac)

        def bound(ans, mac=mac):
            inflight.discard(mac)
            if ans is not None and ans.ok:
                res.acked[mac] = ans.ip
                res.acked_at[mac] = time.monotonic()
            else:
                todo.append(mac)  # unanswered while no master served: ask again

        def offered(ans, mac=mac):
            if ans is None or not ans.ok:
                inflight.discard(mac)
                todo.append(mac)
                return
            c.lease(LeaseOp.BIND, mac, bound, ip=ans.ip)

        c.lease(LeaseOp.OFFER, mac, offered)

    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    pending = dict(sorted(faults.items()))
    t0 = time.monotonic()
    end = t0 + deadline_s
    try:
        while (todo or inflight) and time.monotonic() < end:
            for c in clients:
                while todo and len(c.outstanding) < in_flight:
                    start(c, todo.pop())
            for key, _ in sel.select(0.02):
                key.data.on_readable()
            for c in clients:
                c.on_timer()
            for k in list(pending):
                if len(res.acked) >= k:
                    pending.pop(k)()
                    res.fault_at[k] = time.monotonic()
    finally:
        sel.close()
    res.seconds = time.monotonic() - t0
    if pending:
        raise AssertionError(f"the run ended before the faults at {sorted(pending)} acknowledgements")
    return res


def verify(probe: MasterClient, res: ChurnResult) -> list[str]:
    """Problems found (empty: every acknowledged lease is there, bound, no address twice)."""
    problems = []
    if len(res.acked) != len(res.macs):
        problems.append(f"only {len(res.acked)} of {len(res.macs)} acknowledged")
    owners: dict[object, str] = {}
    for mac in res.macs:
        ans = probe.call(MessageType.QUERY, {Field.MAC: mac})
        if not ans.ok:
            problems.append(f"{mac}: {ans.reason}")
            continue
        if mac in res.acked and ans.ip != res.acked[mac]:
            problems.append(f"{mac}: acknowledged {res.acked[mac]}, the master has {ans.ip}")
        if ans.fields.get(Field.STATE) != 2:
            problems.append(f"{mac}: state {ans.fields.get(Field.STATE)}, not bound")
        if ans.ip in owners:
            problems.append(f"{ans.ip} held by {owners[ans.ip]} and {mac}")
        owners[ans.ip] = mac
    return problems
