"""The master's state in etcd, written only by the master that holds the leadership.

Layout under ``prefix`` (default ``/l3roam/``), one key per record, values
compact JSON:

    leader              the active master's name, attached to its etcd lease
    alive               the active master's heartbeat (``l3roam.master.election``)
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

from l3roam.errors import LeadershipLost
from l3roam.master.etcd_gateway import EtcdGateway
from l3roam.master.etcd_records import LEADER, created_at, decode_snapshot, encode_batch
from l3roam.master.store import Batch, Snapshot


class EtcdStore:
    """``LeaseStore`` over etcd for the master holding ``leader_revision``."""

    def __init__(self, gateway: EtcdGateway, prefix: str, leader_revision: int,
                 max_txn_ops: int = 128, preloaded: list | None = None):
        self.gw = gateway
        self.prefix = prefix.encode()
        self.fence = created_at(self.prefix + LEADER, leader_revision)
        self.max_txn_ops = max_txn_ops
        self.path = f"etcd:{gateway.endpoint[0]}:{gateway.endpoint[1]}{prefix}"
        self.transactions = 0
        self._preloaded = preloaded  # read before the campaign, known current (election.py)

    def load(self) -> Snapshot:
        kvs = self._preloaded if self._preloaded is not None else self.gw.range(self.prefix)
        self._preloaded = None
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
