"""pcap codec and RTP statistics of the application probes (pure)."""

import struct

from l3roam.apps import pcap, rtp


def _sll2(frame_ip: bytes, outgoing: bool, ifindex: int = 3) -> bytes:
    # protocol, reserved, ifindex, hatype, pkttype, addr len, addr(8)
    return struct.pack("!HHIHBB8s", 0x0800 if frame_ip[0] >> 4 == 4 else 0x86DD, 0, ifindex, 1,
                       4 if outgoing else 0, 6, b"\x02" * 8) + frame_ip


def _pcap(link: int, records: list[tuple[float, bytes]], nano: bool = True) -> bytes:
    head = struct.pack("<IHHiIII", pcap.MAGIC_NS if nano else pcap.MAGIC_US, 2, 4, 0, 0, 262144, link)
    body = b""
    for ts, data in records:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nano else 1e6))
        body += struct.pack("<IIII", sec, frac, len(data), len(data)) + data
    return head + body


def test_the_written_rtp_stream_reads_back_with_its_sequence_numbers_and_timing():
    blob = rtp.stream_pcap(1.0, rate=50)
    res = pcap.read(blob)
    assert res.undecoded == 0 and len(res.packets) == 50
    seqs = [rtp.rtp_seq(p.payload) for p in res.packets]
    assert seqs == list(range(50))
    assert abs((res.packets[1].ts - res.packets[0].ts) - 0.02) < 1e-6
    assert res.packets[0].dport == 6000 and len(res.packets[0].payload) == 172


def test_sll2_capture_gives_direction_interface_and_the_ipv4_packet_inside_srv6():
    eth_ip = pcap.udp_frame("10.99.0.5", "198.51.100.10", 6000, 6000, b"\x80\x08\x00\x07" + b"\0" * 8)[14:]
    # IPv6 header (next header 43), SRH with one segment (next header 4: IPv4), then the IPv4 packet
    srh = struct.pack("!BBBBBBH", 4, 2, 4, 0, 0, 0, 0) + b"\xfc" + b"\0" * 15
    ip6 = struct.pack("!IHBB", 6 << 28, len(srh) + len(eth_ip), 43, 64) + b"\xfd" * 16 + b"\xfc" * 16
    blob = _pcap(pcap.LINK_SLL2, [(100.5, _sll2(eth_ip, outgoing=True, ifindex=7)),
                                  (100.6, _sll2(ip6 + srh + eth_ip, outgoing=False)),
                                  (100.7, _sll2(b"\x60" + b"\0" * 39, outgoing=False))])
    res = pcap.read(blob)
    assert res.undecoded == 1  # plain IPv6 without a routing header
    plain, encap = res.packets
    assert plain.outgoing and plain.ifindex == 7 and not plain.srv6
    assert encap.srv6 and not encap.outgoing and encap.src == "10.99.0.5" and rtp.rtp_seq(encap.payload) == 7
    assert abs(encap.ts - 100.6) < 1e-9


def test_a_capture_cut_off_mid_record_keeps_the_complete_records():
    blob = rtp.stream_pcap(0.2)
    assert len(pcap.read(blob[:-10]).packets) == 9


def test_sequence_numbers_unwrap_across_16_bits():
    assert rtp.unwrap([65534, 65535, 0, 1]) == [65534, 65535, 65536, 65537]


def test_direction_counts_loss_late_packets_gaps_and_loss_per_roam():
    sent = {s: 10.0 + s * 0.02 for s in range(200)}  # 4 s at 50/s
    arrived = {s: t + 0.005 for s, t in sent.items() if not 100 <= s < 110}  # 200 ms lost at t = 12.0
    arrived[150] += 0.2  # one packet 200 ms late: beyond a 60 ms buffer
    st = rtp.direction(sent, arrived, roams=[11.9], jitter_buffer_ms=60, window_s=1.0)
    assert (st.sent, st.received, st.lost, st.late) == (200, 190, 10, 1)
    assert 215 <= st.longest_gap_ms <= 225 and abs(st.gap_at - (10.0 + 99 * 0.02 + 0.005)) < 1e-6
    assert st.per_roam[0].lost == 10 and st.per_roam[0].gap_ms > 200
    assert st.effective_loss_pct == 5.5
    assert abs(st.delay_ms - 6.05) < 0.1


def test_the_schedule_counts_packets_never_sent_and_a_dead_stream_gaps_to_the_end():
    captured = {s: 5.0 + s / 50 for s in range(100)}  # the caller stopped sending after 2 s
    sched = rtp.nominal(captured, 300, 50)
    assert len(sched) == 300 and abs(sched[299] - (5.0 + 299 / 50)) < 1e-9
    st = rtp.direction(sched, dict(captured), [], span=(sched[0], sched[299]))
    assert st.lost == 200 and st.longest_gap_ms > 3900
