"""Ethernet/IPv4/UDP framing and ARP codec, checked against scapy and real captures."""

from __future__ import annotations

import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from l3roam.errors import MalformedPacket
from l3roam.proto import dhcp
from l3roam.proto.arp import (
    ArpOp,
    ArpPacket,
    arp_reply_frame,
    arp_request_frame,
    decode_arp_frame,
    gratuitous_arp_frame,
)
from l3roam.proto.udp_frame import build_udp_frame, internet_checksum, parse_udp_frame

DATA = Path(__file__).resolve().parent.parent / "data"
sys.path.insert(0, str(DATA.parent / "netns"))
from dhcp_lab import read_pcap  # noqa: E402

A = IPv4Address
GW_MAC = "02:00:00:00:00:fe"


def test_checksum_rfc1071_example():
    # RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_udp_frame_matches_scapy():
    scapy = pytest.importorskip("scapy.all")
    payload = b"hello dhcp" * 31  # odd length
    frame = build_udp_frame(GW_MAC, "ff:ff:ff:ff:ff:ff", A("10.99.0.1"), A("255.255.255.255"), 67, 68, payload + b"x")
    p = scapy.Ether(frame)
    assert p[scapy.IP].src == "10.99.0.1" and p[scapy.UDP].dport == 68
    ip_sum, udp_sum = p[scapy.IP].chksum, p[scapy.UDP].chksum
    del p[scapy.IP].chksum
    del p[scapy.UDP].chksum
    q = scapy.Ether(bytes(p))
    assert (q[scapy.IP].chksum, q[scapy.UDP].chksum) == (ip_sum, udp_sum)


def test_udp_frame_roundtrip_with_checksum_check():
    frame = build_udp_frame(GW_MAC, "02:00:00:00:00:01", A("10.99.0.1"), A("10.99.0.7"), 67, 68, b"payload")
    u = parse_udp_frame(frame, check_udp_checksum=True)
    assert (u.src_mac, u.dst_mac, u.src_ip, u.dst_ip, u.sport, u.dport, u.payload) == (
        GW_MAC, "02:00:00:00:00:01", A("10.99.0.1"), A("10.99.0.7"), 67, 68, b"payload")
    bad = bytearray(frame)
    bad[-1] ^= 0xFF
    with pytest.raises(MalformedPacket, match="UDP checksum"):
        parse_udp_frame(bytes(bad), check_udp_checksum=True)
    assert parse_udp_frame(bytes(bad)).payload[-1] == ord("d") ^ 0xFF


@pytest.mark.parametrize("client", ["udhcpc", "dhclient"])
def test_captured_frames_parse(client):
    frames = read_pcap(DATA / f"{client}.pcap")
    assert len(frames) >= 4
    for frame in frames:
        u = parse_udp_frame(frame)
        assert u.dport == 67 and u.sport == 68
        assert dhcp.decode(u.payload).mac == u.src_mac


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda f: f[:30], "truncated"),
        (lambda f: f[:12] + b"\x86\xdd" + f[14:], "not IPv4"),
        (lambda f: f[:14] + b"\x65" + f[15:], "IP version"),
        (lambda f: f[:24] + bytes([f[24] ^ 1]) + f[25:], "header checksum"),
        (lambda f: f[:16] + b"\xff\xff" + f[18:], "total length"),
    ],
)
def test_malformed_frames(mutate, reason):
    frame = build_udp_frame(GW_MAC, "02:00:00:00:00:01", A("10.99.0.1"), A("10.99.0.7"), 67, 68, b"x" * 20)
    with pytest.raises(MalformedPacket, match=reason):
        parse_udp_frame(mutate(frame))


def test_gratuitous_arp_matches_scapy():
    scapy = pytest.importorskip("scapy.all")
    frame = gratuitous_arp_frame(GW_MAC, A("10.99.0.1"))
    assert len(frame) == 60
    p = scapy.Ether(frame)
    assert p.dst == "ff:ff:ff:ff:ff:ff" and p.src == GW_MAC
    assert p[scapy.ARP].op == 1 and p[scapy.ARP].psrc == p[scapy.ARP].pdst == "10.99.0.1"
    assert decode_arp_frame(frame)[2].is_gratuitous


def test_arp_request_and_reply():
    req_frame = arp_request_frame("02:00:00:00:00:01", A("10.99.0.7"), A("10.99.0.9"))
    dst, src, req = decode_arp_frame(req_frame)
    assert dst == "ff:ff:ff:ff:ff:ff" and req.op is ArpOp.REQUEST and not req.is_gratuitous
    dst, src, reply = decode_arp_frame(arp_reply_frame(req, GW_MAC))
    assert dst == "02:00:00:00:00:01" and src == GW_MAC
    assert reply == ArpPacket(ArpOp.REPLY, GW_MAC, A("10.99.0.9"), "02:00:00:00:00:01", A("10.99.0.7"))


def test_arp_probe_and_malformed():
    _, _, probe = decode_arp_frame(arp_request_frame("02:00:00:00:00:01", A(0), A("10.99.0.7")))
    assert probe.is_probe
    with pytest.raises(MalformedPacket, match="truncated ARP"):
        decode_arp_frame(arp_request_frame("02:00:00:00:00:01", A(0), A("10.99.0.7"))[:30])
    frame = bytearray(gratuitous_arp_frame(GW_MAC, A("10.99.0.1")))
    frame[21] = 9  # operation 9
    with pytest.raises(MalformedPacket, match="operation"):
        decode_arp_frame(bytes(frame))
