"""Two real masters on three real etcd members: kill -9 the active one mid-churn.

Clients know both masters' addresses (retransmissions go to both).  Every
lease that was acknowledged must still be there with the same address, no
address may be held twice, and the standby must take over.  The same with an
etcd member (the raft leader) killed as well.
"""

from __future__ import annotations

import selectors
import time

import pytest

from l3roam.proto.control import Field, LeaseOp, MessageType

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

N = 1000


def churn(m, kill_at: dict[int, object], deadline_s: float = 120):
    """Lease N MACs from 10 clients, 5 in flight each; run kill_at[k]() once k are acked."""
    macs = [f"02:20:00:00:{i >> 8:02x}:{i & 0xff:02x}" for i in range(N)]
    clients = [m.client(f"ap{i}", deadline=10.0, retry_max=0.25) for i in range(10)]
    acked: dict[str, object] = {}
    todo = list(reversed(macs))
    inflight: set[str] = set()
    stamps: dict[str, float] = {}

    def start(c, mac):
        inflight.add(mac)

        def bound(ans, mac=mac):
            inflight.discard(mac)
            if ans is not None and ans.ok:
                acked[mac] = ans.ip
                stamps[mac] = time.monotonic()
            else:
                todo.append(mac)

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
    pending = dict(sorted(kill_at.items()))
    kill_times: dict[int, float] = {}
    end = time.monotonic() + deadline_s
    while (todo or inflight) and time.monotonic() < end:
        for c in clients:
            while todo and len(c.outstanding) < 5:
                start(c, todo.pop())
        for key, _ in sel.select(0.02):
            key.data.on_readable()
        for c in clients:
            c.on_timer()
        for k in list(pending):
            if len(acked) >= k:
                pending.pop(k)()
                kill_times[k] = time.monotonic()
    for c in clients:
        c.close()
    sel.close()
    assert not pending, "the run ended before every fault was injected"
    return macs, acked, stamps, kill_times


def check_all(m, macs, acked):
    assert len(acked) == N, f"only {len(acked)} acknowledged"
    probe = m.client("checker", deadline=5.0)
    owners: dict[object, str] = {}
    try:
        for mac in macs:
            ans = probe.call(MessageType.QUERY, {Field.MAC: mac})
            assert ans.ok, mac
            assert ans.ip == acked[mac], f"{mac}: acknowledged {acked[mac]}, master has {ans.ip}"
            assert ans.fields[Field.STATE] == 2  # BOUND
            assert ans.ip not in owners, f"{ans.ip} held by {owners.get(ans.ip)} and {mac}"
            owners[ans.ip] = mac
    finally:
        probe.close()


def first_ack_after(stamps: dict[str, float], t: float) -> float:
    return min(s for s in stamps.values() if s > t) - t


def test_kill_active_master_mid_churn_standby_takes_over_nothing_lost(replicated):
    m = replicated
    first = m.active()
    macs, acked, stamps, kills = churn(m, {N // 2: lambda: m.kill(first)})
    check_all(m, macs, acked)
    survivor = 1 - first
    assert m.active() == survivor
    assert "event=master_active master=m%d" % survivor in m.log(survivor)
    gap = first_ack_after(stamps, kills[N // 2])
    print(f"first acknowledgement {gap * 1000:.0f} ms after the kill")
    assert gap < 5.0  # generous: the figure is measured in the benchmark and docs


def test_kill_etcd_leader_and_then_active_master_nothing_lost(replicated):
    m = replicated
    first = m.active()
    state = {}

    def kill_member():
        state["member"] = m.cluster.leader_index()
        assert state["member"] is not None
        m.cluster.kill(state["member"])

    macs, acked, stamps, kills = churn(m, {300: kill_member, 600: lambda: m.kill(first)})
    check_all(m, macs, acked)
    assert m.active() == 1 - first
    alive = [mm.proc.poll() is None for mm in m.cluster.members]
    assert alive.count(False) == 1 and not alive[state["member"]]
