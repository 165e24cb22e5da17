"""babelbytes: RFC 8966 arithmetic of babel's per-client cost, TLV tally, threshold crossings."""

import struct

import pytest

from l3roam.experiment import babelbytes as bb


def test_an_ipv4_host_route_update_is_16_bytes():
    assert bb.update_tlv_bytes(32) == 16  # 2 TLV header + 10 fixed + 4 prefix bytes
    assert bb.update_tlv_bytes(128) == 28
    assert bb.update_tlv_bytes(32, omitted=2) == 14


def test_prediction_for_a_full_table_dump():
    p = bb.predict(update_interval=4, mtu=1600, clients=10000, originators=3)
    # 1548 bytes of TLVs per packet: a 12-byte Router-Id then 96 updates of 16 bytes
    assert p.per_packet == 96
    packets = -(-10000 // 96)
    total = 10000 * 16 + packets * 52 + (packets + 2) * 12
    assert p.bytes_per_client_per_dump == pytest.approx(total / 10000)
    assert p.bytes_per_client_per_link_per_s == pytest.approx(2 * total / 10000 / 4)
    assert 8.3 < p.bytes_per_client_per_link_per_s < 8.5
    # an IPv4 address on the link adds a Next-Hop TLV per packet: fewer updates fit
    assert bb.predict(4, clients=10000, ipv4_link_address=True).per_packet == 95
    assert bb.predict(16, clients=10000).bytes_per_client_per_link_per_s == pytest.approx(
        p.bytes_per_client_per_link_per_s / 4)


def tlv(t: int, body: bytes) -> bytes:
    return bytes([t, len(body)]) + body


def packet(*tlvs: bytes, trailer: bytes = b"") -> bytes:
    body = b"".join(tlvs)
    return bytes([42, 2]) + struct.pack("!H", len(body)) + body + trailer


def test_tally_counts_bytes_by_tlv_type_and_survives_garbage():
    hello = tlv(4, b"\x00" * 6)
    upd = tlv(8, bytes([4, 0, 32, 0, 0, 100, 0, 1, 0, 96]) + bytes([10, 99, 0, 1]))
    rid = tlv(6, b"\x00\x00" + b"\x02" * 8)
    t = bb.tally([packet(hello), packet(rid, upd, upd, bytes([0])), b"\x01garbage", packet(hello, trailer=b"xx")])
    assert t["headers"] == {"count": 3, "bytes": 3 * 52}
    assert t["hello"] == {"count": 2, "bytes": 16}
    assert t["update"] == {"count": 2, "bytes": 32}
    assert t["router-id"] == {"count": 1, "bytes": 12}
    assert t["pad1"] == {"count": 1, "bytes": 1}
    assert t["malformed"]["count"] == 1
    assert t["trailer"] == {"count": 1, "bytes": 2}
    # whole packets by how many updates they carry (a full update fills them, a roam's does not)
    assert t["packets-without-updates"]["count"] == 2
    assert t["packets-few-updates"] == {"count": 1, "bytes": len(packet(rid, upd, upd, bytes([0]))) + 48}
    full = bb.tally([packet(rid, *[upd] * 30)])
    assert full["packets-full-updates"]["count"] == 1 and "packets-few-updates" not in full


def test_a_tlv_running_past_the_body_is_not_an_error():
    bad = bytes([42, 2, 0, 3, 8, 40, 1])  # an update claiming 40 bytes in a 3-byte body
    assert bb.tally([bad])["update"]["count"] == 1


def test_crossings_and_fit():
    a, b = bb.fit([(0, 700.0), (1000, 9100.0), (2000, 17500.0)])
    assert a == pytest.approx(700) and b == pytest.approx(8.4)
    # 1 % of 10 Mbit/s = 12,500 B/s
    assert bb.crossings(a, b, 10e6 / 8, 0.01) == pytest.approx((12500 - 700) / 8.4)
    assert bb.crossings(20000, 8.4, 10e6 / 8, 0.01) == 0.0
    assert bb.crossings(700, 0, 1e6, 0.1) is None


def test_update_bursts_group_packets_close_in_time():
    upd = tlv(8, bytes([4, 0, 32, 0, 0, 100, 0, 1, 0, 96]) + bytes([10, 99, 0, 1]))
    hello = tlv(4, b"\x00" * 6)
    pk = [(0.0, packet(*[upd] * 90)), (0.01, packet(*[upd] * 10)), (0.02, packet(hello)),
          (1.0, packet(upd)), (3.0, packet(*[upd] * 90)), (3.2, packet(*[upd] * 5)), (3.21, b"junk")]
    assert bb.update_bursts(pk) == [100, 1, 90, 5]
