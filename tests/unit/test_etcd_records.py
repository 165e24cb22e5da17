"""The etcd store's record layout (pure), the lease table's load rule, and its configuration."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network, IPv6Address

from l3roam.config import load_text
from l3roam.core.lease import Lease, LeasePolicy, LeaseState, LeaseTable
from l3roam.core.location import Location
from l3roam.errors import ConfigError
from l3roam.master.config import MasterConfig
from l3roam.master.etcd_records import decode_snapshot, encode_batch, prefix_end, unb64
from l3roam.master.store import Batch, NodeInfo, Notice

P = b"/l3roam/"


def apply(ops: list[dict], kv: dict[bytes, bytes]) -> None:
    """What etcd does with the operations (puts and single-key deletes)."""
    for op in ops:
        if "request_put" in op:
            kv[unb64(op["request_put"]["key"])] = unb64(op["request_put"]["value"])
        else:
            kv.pop(unb64(op["request_delete_range"]["key"]), None)


def test_batch_round_trips_through_the_key_layout():
    lease = Lease("02:00:00:00:00:01", IPv4Address("10.0.0.5"), LeaseState.BOUND, 1e9, "host",
                  b"\x01\x02", 5.0)
    bare = Lease("02:00:00:00:00:02", IPv4Address("10.0.0.6"), LeaseState.OFFERED, 9.5)
    b = Batch()
    b.leases = {lease.mac: lease, bare.mac: bare}
    b.quarantine = {IPv4Address("10.0.0.9"): 77.0}
    b.locations = {lease.mac: Location(lease.mac, "ap1", 3, 4.0)}
    b.nodes = {"ap1": NodeInfo("ap1", "10.1.0.1", 4501, IPv6Address("fc00::1"), 2.0),
               "ap2": NodeInfo("ap2", "10.1.0.2", 4501, None, 2.0)}
    b.senders = {"ap1": 123456789012345}
    n = Notice(lease.mac, lease.ip, "ap0", "ap1", 3, 4.0)
    b.notices = {n.key: n}
    kv: dict[bytes, bytes] = {P + b"leader": b"m0"}
    apply(encode_batch(P, b), kv)
    snap = decode_snapshot(P, sorted(kv.items()))
    assert sorted(snap.leases, key=lambda x: x.mac) == [lease, bare]
    assert snap.quarantine == b.quarantine
    assert snap.locations == list(b.locations.values())
    assert sorted(snap.nodes, key=lambda x: x.node) == list(b.nodes.values())
    assert snap.senders == b.senders and snap.notices == [n]
    # deletions: a forgotten lease, an ended quarantine, an acknowledged notice
    d = Batch()
    d.leases = {bare.mac: None}
    d.quarantine = {IPv4Address("10.0.0.9"): None}
    d.notices = {n.key: None}
    ops = encode_batch(P, d)
    apply(ops, kv)
    snap = decode_snapshot(P, sorted(kv.items()))
    assert snap.leases == [lease] and snap.quarantine == {} and snap.notices == []
    assert all(json.dumps(op) for op in ops)


def test_lease_deletions_come_first_in_a_transaction():
    b = Batch()
    b.leases = {"02:00:00:00:00:0a": Lease("02:00:00:00:00:0a", IPv4Address("10.0.0.5"),
                                           LeaseState.OFFERED, 1.0), "02:00:00:00:00:0b": None}
    ops = encode_batch(P, b)
    assert "request_delete_range" in ops[0] and "request_put" in ops[1]


def test_restore_keeps_the_newer_of_two_leases_on_one_address():
    t = LeaseTable([IPv4Network("10.0.0.0/24")], set(), {}, LeasePolicy())
    old = Lease("02:00:00:00:00:01", IPv4Address("10.0.0.5"), LeaseState.BOUND, 1e9, updated=1.0)
    new = Lease("02:00:00:00:00:02", IPv4Address("10.0.0.5"), LeaseState.BOUND, 1e9, updated=2.0)
    other = Lease("02:00:00:00:00:03", IPv4Address("10.0.0.7"), LeaseState.BOUND, 1e9, updated=0.5)
    dropped = t.restore([new, other, old], {})
    assert dropped == [old]
    assert t.owner_of(IPv4Address("10.0.0.5")) == new.mac and t.lease_of(old.mac) is None
    assert t.lease_of(other.mac) == other
    got = t.offer(old.mac, None, 10.0)
    assert isinstance(got, Lease) and got.ip not in (new.ip, other.ip)


def test_prefix_end():
    assert prefix_end(b"/l3roam/") == b"/l3roam0"
    assert prefix_end(b"a\xff") == b"b"


def _problems(text: str) -> dict[str, str]:
    try:
        load_text(MasterConfig, text, "m.yaml")
    except ConfigError as exc:
        assert "m.yaml" in str(exc)
        return {p.key: p.problem for p in exc.problems}
    return {}


def test_etcd_config_errors_name_the_key():
    base = f"key: {'ab' * 16}\npools: [{{prefix: 10.0.0.0/24}}]\n"
    assert _problems(base + "store: {backend: etcd}\n") == {
        "store.etcd": "required when backend is etcd (endpoints at least)"}
    got = _problems(base + "store: {backend: etcd, etcd: {endpoints: [nohost], prefix: l3, "
                    "lease_ttl_seconds: 0, max_txn_ops: 4, poll_seconds: 0}}\n")
    assert "host:port" in got["store.etcd.endpoints[0]"]
    assert "at least one" in got["store.etcd.endpoints"]
    assert "'/'" in got["store.etcd.prefix"]
    assert got["store.etcd.lease_ttl_seconds"] == "must be at least 1"
    assert got["store.etcd.max_txn_ops"] == "must be at least 16"
    assert got["store.etcd.poll_seconds"] == "must be in (0, 5]"
    ok = load_text(MasterConfig, base + "store: {backend: etcd, etcd: {endpoints: [10.0.0.1:2379]}}\n")
    assert ok.store.etcd.endpoints == ["10.0.0.1:2379"] and ok.store.etcd.prefix == "/l3roam/"


def test_every_etcd_key_is_documented_in_the_example_config():
    import dataclasses
    from pathlib import Path

    from l3roam.master.config import EtcdConfig

    text = (Path(__file__).resolve().parents[2] / "configs" / "master.yaml").read_text()
    for f in dataclasses.fields(EtcdConfig):
        assert f"#   {f.name}:" in text, f.name
