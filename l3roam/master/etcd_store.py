"""The master's state in etcd, written only by the master that holds the leadership.

Layout under ``prefix`` (default ``/l3roam/``), one key per record, values
compact JSON:

    leader              the active master's name, attached to its etcd lease
    lease/<mac>         [ip, state, expires, hostname, client_id hex, updated]
    quarantine/<ip>     until
    location/<mac>      [node, seq, since]
    node/<id>           [host, port, handoff or null, last_seen]
    sender/<id>         highest message sequence
    notice/<mac|old>    [mac, ip or null, old_node, new_node, seq, created]

``commit`` writes a ``Batch`` as one transaction (several when it has more
records than etcd's ``--max-txn-ops``), each guarded by a compare on the
leader key's creation revision: a master that has lost the leadership cannot
write, even if it has not noticed yet (fencing).  A transaction that returned
is committed by a quorum of the members, so it survives the loss of any
minority of them and of the master.  When a batch spans several transactions
and the master dies between them, none of its answers was sent; the records of
one batch that did land are each a valid state of their own, and a lease that
shares its address with a newer one is dropped on load (``LeaseTable.restore``).
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address

from l3roam.core.lease import Lease, LeaseState
from l3roam.core.location import Location
from l3roam.errors import LeadershipLost
from l3roam.master.etcd_gateway import EtcdGateway, created_at, delete, put
from l3roam.master.store import Batch, NodeInfo, Notice, Snapshot

LEADER = b"leader"


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def encode_batch(prefix: bytes, batch: Batch) -> list[dict]:
    """The transaction operations for a batch: deletions of leases first."""
    ops: list[dict] = []
    for mac, lease in batch.leases.items():
        if lease is None:
            ops.append(delete(prefix + b"lease/" + mac.encode()))
    for mac, lease in batch.leases.items():
        if lease is not None:
            ops.append(put(prefix + b"lease/" + mac.encode(), _dump(
                [int(lease.ip), int(lease.state), lease.expires, lease.hostname,
                 lease.client_id.hex() if lease.client_id is not None else None, lease.updated])))
    for ip, until in batch.quarantine.items():
        k = prefix + b"quarantine/" + str(ip).encode()
        ops.append(delete(k) if until is None else put(k, _dump(until)))
    for mac, loc in batch.locations.items():
        ops.append(put(prefix + b"location/" + mac.encode(), _dump([loc.node, loc.seq, loc.since])))
    for node, n in batch.nodes.items():
        ops.append(put(prefix + b"node/" + node.encode(), _dump(
            [n.host, n.port, str(n.handoff) if n.handoff else None, n.last_seen])))
    for sender, seq in batch.senders.items():
        ops.append(put(prefix + b"sender/" + sender.encode(), _dump(seq)))
    for key, n in batch.notices.items():
        k = prefix + b"notice/" + key.encode()
        ops.append(delete(k) if n is None else put(k, _dump(
            [n.mac, str(n.ip) if n.ip else None, n.old_node, n.new_node, n.seq, n.created])))
    return ops


def decode_snapshot(prefix: bytes, items: list[tuple[bytes, bytes]]) -> Snapshot:
    snap = Snapshot()
    for key, raw in items:
        kind, _, name_b = key[len(prefix):].partition(b"/")
        name = name_b.decode()
        if kind == b"leader" or not name:
            continue
        v = json.loads(raw)
        if kind == b"lease":
            ip, state, expires, hostname, cid, updated = v
            snap.leases.append(Lease(name, IPv4Address(ip), LeaseState(state), expires, hostname,
                                     bytes.fromhex(cid) if cid is not None else None, updated))
        elif kind == b"quarantine":
            snap.quarantine[IPv4Address(name)] = v
        elif kind == b"location":
            snap.locations.append(Location(name, v[0], v[1], v[2]))
        elif kind == b"node":
            snap.nodes.append(NodeInfo(name, v[0], v[1], IPv6Address(v[2]) if v[2] else None, v[3]))
        elif kind == b"sender":
            snap.senders[name] = v
        elif kind == b"notice":
            mac, ip, old, new, seq, created = v
            snap.notices.append(Notice(mac, IPv4Address(ip) if ip else None, old, new, seq, created))
    return snap


class EtcdStore:
    """``LeaseStore`` over etcd for the master holding ``leader_revision``."""

    def __init__(self, gateway: EtcdGateway, prefix: str, leader_revision: int,
                 max_txn_ops: int = 128):
        self.gw = gateway
        self.prefix = prefix.encode()
        self.fence = created_at(self.prefix + LEADER, leader_revision)
        self.max_txn_ops = max_txn_ops
        self.path = f"etcd:{gateway.endpoint[0]}:{gateway.endpoint[1]}{prefix}"
        self.transactions = 0

    def load(self) -> Snapshot:
        kvs = self.gw.range(self.prefix)
        return decode_snapshot(self.prefix, [(kv.key, kv.value) for kv in kvs])

    def commit(self, batch: Batch) -> None:
        if not batch:
            return
        ops = encode_batch(self.prefix, batch)
        n = self.max_txn_ops
        for i in range(0, len(ops), n):
            ok, _ = self.gw.txn([self.fence], ops[i:i + n])
            self.transactions += 1
            if not ok:
                raise LeadershipLost("the leader key is no longer ours: another master is active")

    def close(self) -> None:
        self.gw.close()
