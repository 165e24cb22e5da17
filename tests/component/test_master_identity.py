"""Per-node keys on the real master: a node speaking as another is refused, keys rotate with an
overlap, and a move notice sent after a master restart is acted on."""

from __future__ import annotations

import time

import pytest

from l3roam.errors import MasterUnavailable
from l3roam.master.client import MasterClient
from l3roam.proto.control import Field, LeaseOp, MessageType
from l3roam.proto.keys import NodeKey

AP1 = NodeKey("ap1-2026a", b"ap1-secret-ap1-secret")
AP1_NEW = NodeKey("ap1-2026b", b"ap1-rotated-secret-0001")
AP2 = NodeKey("ap2-2026a", b"ap2-secret-ap2-secret")


def keys_yaml(ap1_old_end: str | None = None) -> str:
    end = f", not_after: '{ap1_old_end}'" if ap1_old_end else ""
    return f"""node_keys:
  - {{id: {AP1.id}, node: ap1, key: {AP1.secret.hex()}{end}}}
  - {{id: {AP1_NEW.id}, node: ap1, key: {AP1_NEW.secret.hex()}}}
  - {{id: {AP2.id}, node: ap2, key: {AP2.secret.hex()}}}
"""


def metric(m, name: str, reason: str) -> float:
    want = f'{name}{{reason="{reason}"}} '
    return next((float(x.split()[-1]) for x in m.metrics().splitlines() if x.startswith(want)), 0.0)


def client(m, node: str, key: NodeKey, **kw) -> MasterClient:
    return MasterClient(node, key, ("127.0.0.1", m.port), deadline=kw.pop("deadline", 1.0), **kw)


def test_a_node_speaking_with_another_nodes_key_is_refused(make_master):
    m = make_master(keys_yaml())
    ap1 = client(m, "ap1", AP1)
    assert ap1.call(MessageType.HELLO, {}).ok  # its own key: served
    forger = client(m, "ap2", AP1, deadline=0.5)  # ap1's key id and secret, speaking as ap2
    with pytest.raises(MasterUnavailable):
        forger.call(MessageType.CLAIM, {Field.MAC: "02:00:00:00:0b:01", Field.SEQ: 0})
    assert metric(m, "l3roam_master_dropped_total", "wrong_node") >= 1
    assert "event=dropped reason=wrong_node" in m.log.read_text()
    # ap2's own key under ap2 works; a key id the master does not know is refused
    assert client(m, "ap2", AP2).call(MessageType.HELLO, {}).ok
    with pytest.raises(MasterUnavailable):
        client(m, "ap2", NodeKey("made-up", b"x" * 20), deadline=0.3).call(MessageType.HELLO, {})
    assert metric(m, "l3roam_master_dropped_total", "unknown_key") >= 1
    # and ap2 cannot acknowledge (or hear) ap1's notices: the master signs them with ap1's key
    notices: list = []
    ap1.on_notice = notices.append
    mac = "02:00:00:00:0b:02"
    assert ap1.call(MessageType.LEASE, {Field.OP: int(LeaseOp.BIND), Field.MAC: mac}).ok
    ap2 = client(m, "ap2", AP2)
    assert ap2.call(MessageType.CLAIM, {Field.MAC: mac, Field.SEQ: 0}).ok
    end = time.monotonic() + 3
    while not notices and time.monotonic() < end:
        ap1.wait(timeout=0.05)
        ap1.on_readable()
    assert [n.mac for n in notices] == [mac]


def test_keys_rotate_with_an_overlap_and_an_ended_key_is_refused(make_master, tmp_path):
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    m = make_master(keys_yaml(ap1_old_end=future))
    assert client(m, "ap1", AP1).call(MessageType.HELLO, {}).ok  # old key, in its overlap
    assert client(m, "ap1", AP1_NEW).call(MessageType.HELLO, {}).ok  # new key
    m.stop()
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    m.config.write_text(m.config.read_text().replace(future, past))
    m.start()
    with pytest.raises(MasterUnavailable):
        client(m, "ap1", AP1, deadline=0.5).call(MessageType.HELLO, {})
    assert metric(m, "l3roam_master_dropped_total", "key_expired") >= 1
    assert client(m, "ap1", AP1_NEW).call(MessageType.HELLO, {}).ok


def test_a_notice_after_a_master_restart_is_acted_on(make_master):
    """The master numbered notices from 1 after each start, and nodes ignored ids already seen."""
    m = make_master(keys_yaml())
    notices: list = []
    ap1 = client(m, "ap1", AP1, deadline=3.0, on_notice=notices.append)
    ap2 = client(m, "ap2", AP2, deadline=3.0)

    def move(mac: str) -> None:
        assert ap1.call(MessageType.HELLO, {}).ok
        assert ap2.call(MessageType.HELLO, {}).ok
        assert ap1.call(MessageType.LEASE, {Field.OP: int(LeaseOp.BIND), Field.MAC: mac}).ok
        assert ap2.call(MessageType.CLAIM, {Field.MAC: mac, Field.SEQ: 0}).ok
        end = time.monotonic() + 3
        while mac not in [n.mac for n in notices] and time.monotonic() < end:
            ap1.wait(timeout=0.05)
            ap1.on_readable()

    move("02:00:00:00:0c:01")
    m.kill()  # kill -9: the next master process starts from the store
    m.start()
    move("02:00:00:00:0c:02")
    assert [n.mac for n in notices] == ["02:00:00:00:0c:01", "02:00:00:00:0c:02"]
    ap1.close()
    ap2.close()
