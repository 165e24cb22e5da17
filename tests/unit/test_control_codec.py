"""Control protocol: round trips, authentication, replay and malformed input."""

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l3roam.errors import AuthenticationError, MalformedPacket
from l3roam.proto.control import (HEADER, MAX_DATAGRAM, Codec, Field, LeaseOp, Message,
                                  MessageType, ReplayGuard, decode)

KEY = b"k" * 32
NOW_MS = 1_700_000_000_000


def codec(sender="ap1", key=KEY, start=1000):
    return Codec(key, sender, start)


def test_round_trip_keeps_every_field():
    fields = {Field.OP: int(LeaseOp.BIND), Field.MAC: "02:aa:bb:cc:dd:ee",
              Field.IP: IPv4Address("10.99.3.4"), Field.HOSTNAME: "phone",
              Field.CLIENT_ID: b"\x01\x02", Field.LEASE_SECONDS: 3600, Field.SEQ: 2**40,
              Field.HANDOFF: IPv6Address("fc00:3::d4"), Field.NODE: "ap-ü"}
    data = codec().encode(Message(MessageType.LEASE, "ap1", 77, fields), NOW_MS)
    msg = decode(data, KEY)
    assert (msg.type, msg.sender, msg.request_id, msg.response) == (MessageType.LEASE, "ap1", 77, False)
    assert msg.fields == fields
    assert msg.timestamp_ms == NOW_MS and msg.seq == 1001


def test_nested_entries_round_trip():
    entries = [{Field.MAC: "02:00:00:00:00:01", Field.IP: IPv4Address("10.0.0.1")},
               {Field.MAC: "02:00:00:00:00:02", Field.NODE: "ap2"}]
    data = codec().encode(Message(MessageType.REPLY, "", 1, {Field.ENTRY: entries}, True), NOW_MS)
    assert decode(data, KEY).fields[Field.ENTRY] == entries


def test_unknown_field_types_are_skipped():
    c = codec()
    data = bytearray(c.encode(Message(MessageType.QUERY, "", 1, {Field.MAC: "02:00:00:00:00:01"}), NOW_MS))
    # append an unknown TLV (type 200) and re-sign: a newer sender's extra field
    import hashlib, hmac, struct
    body = bytes(data[:-32]) + struct.pack("!BH", 200, 2) + b"xx"
    body = body[:6] + struct.pack("!H", struct.unpack_from("!H", body, 6)[0] + 5) + body[8:]
    signed = body + hmac.digest(KEY, body, "sha256")
    assert decode(signed, KEY).fields == {Field.MAC: "02:00:00:00:00:01"}


def test_wrong_key_is_refused_as_bad_mac():
    data = codec(key=b"x" * 32).encode(Message(MessageType.HELLO, "", 1), NOW_MS)
    with pytest.raises(AuthenticationError) as e:
        decode(data, KEY)
    assert e.value.reason == "bad_mac"


def test_any_flipped_bit_is_refused():
    data = codec().encode(Message(MessageType.CLAIM, "", 5, {Field.MAC: "02:00:00:00:00:01"}), NOW_MS)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01
        with pytest.raises((AuthenticationError, MalformedPacket)):
            decode(bytes(bad), KEY)


@pytest.mark.parametrize("data,why", [
    (b"", "truncated"), (b"L3", "truncated"), (b"\x00" * 40, "truncated"),
    (b"XX" + b"\x01" * 80, "bad magic"), (b"L3\x09" + b"\x00" * 80, "unsupported version"),
    (b"L3" + b"\x00" * (MAX_DATAGRAM + 10), "oversized"),
])
def test_malformed_datagrams_raise_malformed_packet(data, why):
    with pytest.raises(MalformedPacket) as e:
        decode(data, KEY)
    assert why in str(e.value)


def test_length_mismatch_is_malformed():
    data = codec().encode(Message(MessageType.HELLO, "", 1), NOW_MS)
    with pytest.raises(MalformedPacket):
        decode(data + b"\x00", KEY)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_else(data):
    try:
        decode(data, KEY)
    except (MalformedPacket, AuthenticationError):
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_signed_garbage_payload_is_malformed_not_a_crash(payload):
    """A holder of the key sending a broken payload still cannot crash the decoder."""
    import hashlib, hmac
    sender = b"ap1"
    head = HEADER.pack(b"L3", 2, MessageType.LEASE, 0, len(sender), len(payload), 1, NOW_MS, 1, 6)
    body = head + b"shared" + sender + payload
    try:
        decode(body + hmac.digest(KEY, body, "sha256"), KEY)
    except MalformedPacket:
        pass


def test_replay_guard_refuses_repeats_and_old_timestamps():
    c = codec()
    g = ReplayGuard(max_skew_s=30, window=64)
    msgs = [decode(c.encode(Message(MessageType.HELLO, "", i), NOW_MS), KEY) for i in range(3)]
    g.check(msgs[1], NOW_MS)
    g.check(msgs[0], NOW_MS)  # out of order within the window is fine
    for m in msgs[:2]:
        with pytest.raises(AuthenticationError) as e:
            g.check(m, NOW_MS)
        assert e.value.reason == "replay"
    with pytest.raises(AuthenticationError) as e:
        g.check(msgs[2], NOW_MS + 31_000)
    assert e.value.reason == "stale"


def test_replay_guard_refuses_sequences_below_window_and_below_persisted_floor():
    c = codec(start=0)
    msgs = [decode(c.encode(Message(MessageType.HELLO, "", i), NOW_MS), KEY) for i in range(100)]
    g = ReplayGuard(window=16)
    g.check(msgs[99], NOW_MS)
    with pytest.raises(AuthenticationError):
        g.check(msgs[50], NOW_MS)  # too old for the window
    restarted = ReplayGuard(window=16, floor={"ap1": msgs[99].seq})
    for m in (msgs[99], msgs[98], msgs[10]):
        with pytest.raises(AuthenticationError):
            restarted.check(m, NOW_MS)
    fresh = decode(c.encode(Message(MessageType.HELLO, "", 1000), NOW_MS), KEY)
    restarted.check(fresh, NOW_MS)


def test_sequences_grow_across_a_restart_of_the_sender():
    import time
    first = Codec(KEY, "ap1", time.time_ns())
    a = decode(first.encode(Message(MessageType.HELLO, "", 1), NOW_MS), KEY)
    second = Codec(KEY, "ap1", time.time_ns())
    b = decode(second.encode(Message(MessageType.HELLO, "", 1), NOW_MS), KEY)
    assert b.seq > a.seq


def test_short_keys_and_long_sender_ids_are_rejected():
    with pytest.raises(ValueError):
        Codec(b"short", "ap1", 0)
    with pytest.raises(ValueError):
        Codec(KEY, "x" * 65, 0)
