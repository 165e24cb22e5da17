"""The etcd side of the master's state, as data: request encoding and record layout (pure).

etcd's v3 JSON gateway wants keys and values in base64 and operations as
nested objects; ``put``, ``delete``, ``get`` and ``created_at`` build them.
``encode_batch`` turns a ``Batch`` into transaction operations and
``decode_snapshot`` the stored keys back into a ``Snapshot``, one key per record
under the prefix (layout in ``l3roam.master.etcd_store``).  No I/O here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from l3roam.core.lease import Lease, LeaseState
from l3roam.core.location import Location
from l3roam.master.store import Batch, NodeInfo, Notice, Snapshot

LEADER = b"leader"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with ``prefix`` (etcd's range_end)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\x00"


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int


def put(key: bytes, value: bytes, lease: int = 0) -> dict:
    op: dict = {"key": b64(key), "value": b64(value)}
    if lease:
        op["lease"] = str(lease)
    return {"request_put": op}


def delete(key: bytes) -> dict:
    return {"request_delete_range": {"key": b64(key)}}


def get(key: bytes) -> dict:
    return {"request_range": {"key": b64(key)}}


def created_at(key: bytes, revision: int) -> dict:
    """Compare: ``key`` was created at ``revision`` (0: it does not exist)."""
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": str(revision)}


def kv_of(item: dict) -> KeyValue:
    return KeyValue(unb64(item["key"]), unb64(item.get("value", "")),
                    int(item.get("create_revision", 0)), int(item.get("mod_revision", 0)),
                    int(item.get("lease", 0)))


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
