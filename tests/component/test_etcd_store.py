"""EtcdStore and Leadership against a real (single-member) etcd: fencing, round trip, chunking."""

from __future__ import annotations

import threading
from ipaddress import IPv4Address

import pytest

from l3roam.core.lease import Lease, LeaseState
from l3roam.errors import LeadershipLost
from l3roam.master.election import Leadership
from l3roam.master.etcd_cluster import LocalCluster
from l3roam.master.etcd_gateway import EtcdGateway
from l3roam.master.etcd_store import EtcdStore
from l3roam.master.store import Batch

pytestmark = [pytest.mark.etcd]

PREFIX = "/t/"


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("etcd1"), n=1)
    try:
        c.start()
        yield c
    finally:
        c.close()


def lease(i: int, t: float = 1.0) -> Lease:
    return Lease(f"02:00:00:00:{i >> 8:02x}:{i & 0xff:02x}", IPv4Address(0x0A000000 + i + 2),
                 LeaseState.BOUND, 1e10, updated=t)


def test_a_deposed_master_cannot_write_and_notices(etcd):
    stop = threading.Event()
    a = Leadership(etcd.endpoints, PREFIX, "a", takeover=0.3)
    b = Leadership(etcd.endpoints, PREFIX, "b", takeover=0.3)
    rev_a = a.campaign(stop)
    assert rev_a
    store_a = EtcdStore(EtcdGateway(etcd.endpoints), PREFIX, rev_a, max_txn_ops=16)
    batch = Batch()
    batch.leases = {x.mac: x for x in (lease(i) for i in range(40))}  # three transactions
    store_a.commit(batch)
    assert store_a.transactions == 3
    # b waits; a's heartbeat stops (as if its process hung): b revokes a's lease and wins
    a._stop.set()
    a._thread.join(2)
    rev_b = b.campaign(stop)
    assert rev_b and rev_b != rev_a
    with pytest.raises(LeadershipLost):
        store_a.commit(Batch(leases={lease(99).mac: lease(99)}))
    store_b = EtcdStore(EtcdGateway(etcd.endpoints), PREFIX, rev_b)
    snap = store_b.load()
    assert sorted(x.mac for x in snap.leases) == sorted(batch.leases)
    assert lease(99).mac not in {x.mac for x in snap.leases}  # the fenced write left no trace
    b.resign()
    store_a.close()
    store_b.close()


def test_resign_frees_the_key_at_once(etcd):
    stop = threading.Event()
    a = Leadership(etcd.endpoints, "/r/", "a")
    assert a.campaign(stop)
    gw = EtcdGateway(etcd.endpoints)
    assert gw.get(b"/r/leader").value == b"a"
    a.resign()
    assert gw.get(b"/r/leader") is None  # deleted now, not after the lease's TTL
    b = Leadership(etcd.endpoints, "/r/", "b")
    assert b.campaign(stop)
    b.resign()
    gw.close()


def test_a_prefetched_state_that_a_late_write_made_stale_is_not_used(etcd):
    """The standby reads the state half way through the silence; the old master
    still commits after that; the new master must load anew and see that write."""
    import time

    stop = threading.Event()
    a = Leadership(etcd.endpoints, "/p/", "a", takeover=1.0)
    b = Leadership(etcd.endpoints, "/p/", "b", takeover=1.0)
    rev_a = a.campaign(stop)
    store_a = EtcdStore(EtcdGateway(etcd.endpoints), "/p/", rev_a)
    store_a.commit(Batch(leases={lease(1).mac: lease(1)}))
    a._stop.set()  # a falls silent but is not dead
    a._thread.join(2)
    won: list[int] = []
    t = threading.Thread(target=lambda: won.append(b.campaign(stop)), daemon=True)
    t.start()
    end = time.monotonic() + 5
    while b._prefetch is None and time.monotonic() < end:
        time.sleep(0.01)
    assert b._prefetch is not None
    store_a.commit(Batch(leases={lease(2).mac: lease(2)}))  # late, but before the takeover
    t.join(5)
    assert won and won[0]
    assert b.prefetched is None  # stale: not used
    snap = EtcdStore(EtcdGateway(etcd.endpoints), "/p/", won[0], preloaded=b.prefetched).load()
    assert {x.mac for x in snap.leases} == {lease(1).mac, lease(2).mac}
    b.resign()
    store_a.close()


def test_a_current_prefetched_state_is_used(etcd):
    stop = threading.Event()
    a = Leadership(etcd.endpoints, "/q/", "a", takeover=0.6)
    b = Leadership(etcd.endpoints, "/q/", "b", takeover=0.6)
    rev_a = a.campaign(stop)
    EtcdStore(EtcdGateway(etcd.endpoints), "/q/", rev_a).commit(Batch(leases={lease(3).mac: lease(3)}))
    a._stop.set()
    a._thread.join(2)
    rev_b = b.campaign(stop)
    assert rev_b
    assert b.prefetched is not None
    snap = EtcdStore(EtcdGateway(etcd.endpoints), "/q/", rev_b, preloaded=b.prefetched).load()
    assert [x.mac for x in snap.leases] == [lease(3).mac]
    b.resign()
