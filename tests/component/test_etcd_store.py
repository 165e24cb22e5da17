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
