"""The probes over loopback: real processes, real sockets, no root needed."""

import json
import subprocess
import sys

from l3roam.measure.analysis import analyse, from_probe_files

PROBE = [sys.executable, "-m", "l3roam.measure.probe"]


def test_udp_probe_keeps_its_rate_and_records_every_packet(tmp_path):
    recv_out, send_out = tmp_path / "recv.json", tmp_path / "send.json"
    rx = subprocess.Popen(PROBE + ["recv", "--bind", "127.0.0.1", "--port", "39571", "--out", str(recv_out)],
                          stdout=subprocess.PIPE, text=True)
    try:
        assert rx.stdout.readline().strip() == "ready"
        subprocess.run(PROBE + ["send", "--to", "127.0.0.1", "--port", "39571", "--rate", "100",
                                "--duration", "1", "--out", str(send_out)], check=True, timeout=10)
    finally:
        rx.terminate()
        rx.wait(timeout=5)
    sent, arrivals = from_probe_files(json.loads(send_out.read_text()), json.loads(recv_out.read_text()))
    assert len(sent) == 100 and len(arrivals) == 100
    times = sorted(sent.values())
    spacing = [b - a for a, b in zip(times, times[1:])]
    assert 0.0095 < sum(spacing) / len(spacing) < 0.0105  # 100 packets/s, unlike ping -i 0.01
    assert times[-1] - times[0] < 1.05  # the schedule does not drift
    (roam,) = analyse(sent, arrivals, [times[50]])
    assert roam.lost == 0 and roam.gap_ms < 50


def test_tcp_keeper_reports_a_surviving_stream(tmp_path):
    out = tmp_path / "tcp.json"
    srv = subprocess.Popen(PROBE + ["tcp-server", "--bind", "127.0.0.1", "--port", "39572"],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready"
        rc = subprocess.run(PROBE + ["tcp-client", "--to", "127.0.0.1", "--port", "39572", "--duration", "0.5",
                                     "--out", str(out)], timeout=15).returncode
    finally:
        srv.terminate()
        srv.wait(timeout=5)
    result = json.loads(out.read_text())
    assert rc == 0 and result["alive"] and result["error"] is None
    assert result["sent"] == result["echoed"] > 0
    assert result["longest_stall_ms"] < 500


def test_tcp_keeper_reports_a_refused_connection(tmp_path):
    out = tmp_path / "tcp.json"
    rc = subprocess.run(PROBE + ["tcp-client", "--to", "127.0.0.1", "--port", "39573", "--duration", "0.2",
                                 "--out", str(out)], timeout=15).returncode
    result = json.loads(out.read_text())
    assert rc == 1 and not result["alive"] and "connect" in result["error"]
