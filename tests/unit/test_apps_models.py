"""E-model, player buffer, conntrack, paths and the verdict rules of the application probes (pure)."""

from l3roam.apps import analysis, conntrack, emodel
from l3roam.apps.paths import packet_paths, per_roam
from l3roam.apps.pcap import Packet
from l3roam.apps.player import playback


def test_emodel_default_r_and_g711_loss_and_delay():
    assert abs(emodel.mos(93.2) - 4.41) < 0.01
    r1 = emodel.r_factor(0, 1.0)
    assert abs(r1 - (93.2 - 95 * 1 / 26.1)) < 1e-9
    assert emodel.r_factor(200, 0) < emodel.r_factor(150, 0) - 2.5  # the knee at 177.3 ms
    assert emodel.call_mos(1, 0, 60) > 4.3 > emodel.call_mos(1, 5, 60) > emodel.call_mos(1, 20, 60)
    assert emodel.mos(-5) == 1.0 and emodel.mos(120) == 4.5


def test_player_stalls_when_a_segment_comes_late_and_counts_an_unrecovered_stall():
    pb = playback([1.0, 3.0, 5.0, 7.0], 2.0, 10.0)  # exactly on time: never empty before the end
    assert pb.stalls == [(9.0, 10.0)] and pb.stalled_at_end
    pb = playback([1.0, 2.0, 9.0, 9.5], 2.0, 12.0)
    assert pb.stalls[0] == (5.0, 9.0) and pb.stall_s >= 4.0
    assert playback([], 2.0, 5.0).started_at is None
    assert playback([0.5, 1.0], 2.0, 3.0, start_segments=2).started_at == 1.0


CT_R2 = ("udp      17 118 src=10.99.0.7 dst=198.51.100.10 sport=6000 dport=6000 packets={p} bytes=1 "
         "src=198.51.100.10 dst=192.0.2.1 sport=6000 dport=6000 packets=9 bytes=1 [ASSURED] mark=0 use=1\n"
         "tcp      6 299 ESTABLISHED src=10.255.0.2 dst=10.255.0.1 sport=1 dport=2 packets=1 bytes=1 "
         "src=10.255.0.1 dst=10.255.0.2 sport=2 dport=1 packets=1 bytes=1 mark=0 use=1\n")
CT_R4 = ("udp      17 29 src=10.99.0.7 dst=198.51.100.10 sport=6000 dport=6000 packets={p} bytes=1 "
         "src=198.51.100.10 dst=192.0.2.5 sport=6000 dport=6000 packets=0 bytes=0 mark=0 use=1\n")


def test_conntrack_tells_the_exit_a_flow_leaves_by_and_a_second_nat_entry():
    e = conntrack.parse(CT_R2.format(p=5))
    assert len(e) == 2 and e[0].nat_src == "192.0.2.1" and e[0].packets == 5 and e[0].reply_packets == 9
    snaps = [(1.0, "r2", CT_R2.format(p=5)), (1.0, "r4", ""),
             (2.0, "r2", CT_R2.format(p=50)), (2.0, "r4", ""),
             (3.0, "r2", CT_R2.format(p=50)), (3.0, "r4", CT_R4.format(p=40))]
    rounds = conntrack.exits_over_time(snaps, {"10.99.0.7"})
    flow = "udp 10.99.0.7:6000->198.51.100.10:6000"
    assert [r["flows"][flow] for r in rounds] == ["r2", "r2", "r4"]
    assert rounds[1]["renatted"] == [] and rounds[2]["renatted"] == [flow]


def _p(ts, src, dst, seq, outgoing=False):
    return Packet(ts, src, dst, 17, 6000, 6000, bytes([0x80, 8]) + seq.to_bytes(2, "big") + b"\0" * 8, outgoing)


S, C = "198.51.100.10", "10.99.0.7"


def test_paths_use_arrivals_only_and_show_the_handoff_detour_and_the_exit():
    caps = {
        "r3": [_p(1.000001, C, S, 1), _p(1.000009, C, S, 1, outgoing=True), _p(1.0021, S, C, 1)],
        "r2": [_p(1.000009, C, S, 1), _p(1.0020, S, C, 1), _p(1.00205, S, C, 2)],
        "r1": [_p(1.0022, S, C, 2)],
    }
    caps["r3"] += [_p(1.0010, C, S, 2), _p(1.0026, S, C, 2)]
    caps["r2"] += [_p(1.0011, C, S, 2), _p(1.0023, S, C, 2)]
    up = packet_paths(caps, lambda p: p.dst == S)
    down = packet_paths(caps, lambda p: p.src == S)
    assert up[1][1] == ("r3", "r2")  # the send at r3 ties r2's arrival: ignored
    assert down[1][1] == ("r2", "r3") and down[2][1] == ("r2", "r1", "r2", "r3")
    rp = per_roam(up, down, {2}, {1: "r2", 2: "r4"}, [0.5], 2.0)[0]
    assert rp.asymmetric == 1 and rp.via_srv6 == 1 and rp.asymmetric_for_ms > 500
    assert rp.down == {"r2>r3": 1, "r2>r1>r2>r3": 1} and rp.exits == {"r2": 1, "r4": 1}


def test_verdicts():
    assert analysis.verdict_hls({"ran": True, "startup_s": 0.1, "stalled_at_end": False, "rebuffers": 0}) == "works"
    assert analysis.verdict_hls({"ran": True, "startup_s": 0.1, "stalled_at_end": False, "rebuffers": 2}) == "degraded"
    assert analysis.verdict_hls({"ran": True, "startup_s": 0.1, "stalled_at_end": True, "rebuffers": 1}) == "breaks"
    ok = {"ran": True, "survived": True, "longest_stall_s": 0.3}
    assert analysis.verdict_rtmp({"down": ok, "up": ok}) == "works"
    assert analysis.verdict_rtmp({"down": ok, "up": {**ok, "longest_stall_s": 1.5}}) == "degraded"
    assert analysis.verdict_rtmp({"down": ok, "up": {**ok, "survived": False}}) == "breaks"
    call = {"ran": True, "clean_bye": True, "longest_gap_ms": 120, "mos": 4.3}
    assert analysis.verdict_sip(call) == "works"
    assert analysis.verdict_sip({**call, "longest_gap_ms": 400}) == "degraded"
    assert analysis.verdict_sip({**call, "clean_bye": False}) == "breaks"
    dl = {"ran": True, "complete": True, "longest_stall_s": 0.2}
    assert analysis.verdict_download(dl) == "works"
    assert analysis.verdict_download({**dl, "longest_stall_s": 3}) == "degraded"
    assert analysis.verdict_download({**dl, "complete": False}) == "breaks"


def test_retransmissions_are_taken_per_connection_from_ss():
    ss = ("0 0 198.51.100.10:8081 192.0.2.1:40000\n\t cubic retrans:0/4 rtt:1/1\n"
          "0 0 198.51.100.10:8081 192.0.2.1:40002\n\t cubic retrans:1/2\n")
    later = "0 0 198.51.100.10:8081 192.0.2.1:40000\n\t cubic retrans:0/7\n"
    assert analysis._retransmissions([[1.0, ss], [2.0, later]]) == 9


def test_rtmp_session_dropped_frames_and_survival_from_progress():
    sender = {"samples": [], "stopped_by_us": True, "exit": 255}
    recv = {"samples": [[10.0, 0, 0.0], [10.5, 25, 1.0], [11.0, 37, 1.5], [15.0, 38, 5.5], [16.0, 63, 6.5]],
            "t_end": 16.2, "stopped_by_us": True, "exit": 255}
    f = analysis.rtmp_direction(sender, recv, 16.5, 25)
    assert f["survived"] and f["longest_stall_s"] == 4.0
    assert f["dropped"] == round((6.5 - 1.0) * 25) - (63 - 25)
    dead = analysis.rtmp_direction(sender, {**recv, "samples": recv["samples"][:3]}, 16.5, 25)
    assert not dead["survived"]
