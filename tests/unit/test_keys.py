"""Per-node keys: the key ring's rules and the key configuration's errors."""

from __future__ import annotations

import pytest

from l3roam.errors import AuthenticationError, ConfigError
from l3roam.master import config as mconfig
from l3roam.node import config as nconfig
from l3roam.proto.control import Codec, Message, MessageType, decode
from l3roam.proto.keys import KeyRing, NodeKey

A = NodeKey("ap1-a", b"a" * 16, "ap1")
A2 = NodeKey("ap1-b", b"b" * 16, "ap1", not_after=100.0)
B = NodeKey("ap2-a", b"c" * 16, "ap2")


def test_the_key_id_picks_the_key_and_the_key_names_its_node():
    ring = KeyRing([A, A2, B])
    msg = decode(Codec(A, "ap2", 1).encode(Message(MessageType.HELLO, "", 1), 0), ring)
    assert msg.key == A and msg.sender == "ap2"
    with pytest.raises(AuthenticationError) as e:
        ring.admit(msg.key, msg.sender, 0.0)
    assert e.value.reason == "wrong_node"
    ring.admit(A, "ap1", 0.0)
    with pytest.raises(AuthenticationError) as e:  # right id, wrong secret
        decode(Codec(NodeKey("ap1-a", b"z" * 16), "ap1", 1).encode(Message(MessageType.HELLO, "", 1), 0), ring)
    assert e.value.reason == "bad_mac"
    with pytest.raises(AuthenticationError) as e:
        ring.lookup("nobody")
    assert e.value.reason == "unknown_key"


def test_rotation_overlap_then_the_old_key_ends():
    ring = KeyRing([A, A2])
    ring.admit(A2, "ap1", 99.0)
    with pytest.raises(AuthenticationError) as e:
        ring.admit(A2, "ap1", 101.0)
    assert e.value.reason == "key_expired"
    assert ring.for_node("ap1", 50.0) == A  # no end beats an end
    assert ring.for_node("ap3", 50.0) is None


def test_the_shared_key_only_under_its_id_unless_a_tool_holds_only_it():
    shared = NodeKey("shared", b"s" * 16)
    ring = KeyRing([A], shared)
    assert ring.lookup("shared") == shared
    with pytest.raises(AuthenticationError):
        ring.lookup("other")
    assert KeyRing.shared(b"s" * 16).lookup("anything").secret == b"s" * 16


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_key_file_readable_by_others_is_refused_naming_file_key_and_fix(tmp_path):
    keyf = write(tmp_path, "ap1.key", "61" * 20)
    keyf.chmod(0o644)
    node = write(tmp_path, "node.yaml", f"node_id: ap1\nmaster: 10.0.0.1:4500\nkey_file: {keyf}\n"
                                        "key_id: ap1-a\nclient_interface: cell0\ngateway: 10.99.0.1/16\n"
                                        "handoff: {enabled: false}\n")
    with pytest.raises(ConfigError) as e:
        nconfig.load(node)
    text = str(e.value)
    assert str(node) in text and "key_file" in text and "0o644" in text and "chmod 600" in text
    keyf.chmod(0o600)
    cfg = nconfig.load(node)
    assert cfg.node_key() == NodeKey("ap1-a", b"a" * 20)


def test_master_node_keys_are_checked(tmp_path):
    base = "pools: [{prefix: 10.99.0.0/16}]\n"
    bad = write(tmp_path, "m.yaml", base + "node_keys:\n"
                "  - {id: k1, node: ap1, key: '" + "61" * 16 + "', not_after: soon}\n"
                "  - {id: k1, node: ap2, key: '" + "62" * 16 + "'}\n"
                "  - {id: shared, node: ap3, key: '" + "63" * 16 + "'}\n")
    with pytest.raises(ConfigError) as e:
        mconfig.load(bad)
    keys = {p.key for p in e.value.problems}
    assert {"node_keys[0].not_after", "node_keys", "node_keys[2].id"} <= keys, keys
    ok = write(tmp_path, "ok.yaml", base + "node_keys:\n  - {id: k1, node: ap1, key: '" + "61" * 16
               + "', not_after: '2030-01-01T00:00:00Z'}\n")
    ring = mconfig.load(ok).keyring()
    assert ring.lookup("k1").node == "ap1" and ring.lookup("k1").not_after == 1893456000.0
    with pytest.raises(AuthenticationError):
        ring.lookup("shared")  # no shared key configured: nobody may use it
    nokey = write(tmp_path, "nokey.yaml", base)
    with pytest.raises(ConfigError):
        mconfig.load(nokey)  # neither a shared key nor node keys
