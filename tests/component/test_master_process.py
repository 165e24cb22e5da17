"""The real master process over loopback: durability under SIGKILL, bad input, moves, ctl."""

from __future__ import annotations

import hashlib
import hmac
import socket
import subprocess
import sys
import time
from ipaddress import IPv6Address

from l3roam.proto.control import (HEADER, Codec, Field, LeaseOp, Message, MessageType, Status,
                                  decode)


def metric(text: str, name: str, **labels) -> float:
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def test_1000_macs_survive_sigkill_and_restart_with_no_address_shared(master):
    """Lease through the client library, kill -9 the master mid-way, restart, check all."""
    from l3roam.bench.churn import churn, macs_for, verify

    clients = [master.client(f"ap{i}", deadline=8.0) for i in range(10)]
    restarted = []

    def kill_and_restart() -> None:
        master.kill()  # SIGKILL with requests in flight
        time.sleep(0.3)
        master.start()
        restarted.append(True)

    res = churn(clients, macs_for(1000, 0x10), {500: kill_and_restart})
    assert restarted
    assert len(res.acked) == 1000, f"only {len(res.acked)} acknowledged"
    assert verify(master.client("checker", deadline=3.0), res) == []
    for c in clients:
        c.close()


def _raw_request(key: bytes, sender: str = "mallory") -> bytes:
    return Codec(key, sender, time.time_ns()).encode(
        Message(MessageType.LEASE, sender, 1, {Field.OP: int(LeaseOp.OFFER), Field.MAC: "02:66:66:66:66:66"}),
        int(time.time() * 1000))


def test_bad_input_is_refused_counted_logged_and_master_keeps_serving(master):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    dst = ("127.0.0.1", master.port)
    good = _raw_request(master.key, "replayer")
    body = HEADER.pack(b"L3", 2, 2, 0, 3, 0, 1, int(time.time() * 1000), 1, 1) + b"kbad"
    sends = {
        "malformed": [b"\x00", b"garbage" * 10, b"L3\x01" + b"\x00" * 60,
                      body + hmac.digest(b"x", body, "sha256")[:10]],
        "oversized": [b"L3" + b"\x00" * 9000],
        "bad_mac": [_raw_request(b"wrong-key-wrong-key!"), good[:-1] + bytes([good[-1] ^ 1])],
        "stale": [Codec(master.key, "old", 1).encode(
            Message(MessageType.HELLO, "", 1), int(time.time() * 1000) - 3_600_000)],
    }
    for datagrams in sends.values():
        for d in datagrams:
            s.sendto(d, dst)
    s.sendto(good, dst)
    first = decode(s.recv(9000), master.key)
    assert first.response and first.get(Field.STATUS) == Status.OK
    s.sendto(good, dst)  # the same bytes again: a replay
    try:
        s.recv(9000)
        raise AssertionError("a replayed datagram was answered")
    except socket.timeout:
        pass
    # still serving
    c = master.client("ap-ok", deadline=2.0)
    assert c.call(MessageType.LEASE, {Field.OP: int(LeaseOp.OFFER), Field.MAC: "02:00:00:00:00:77"}).ok
    c.close()
    text = master.metrics()
    for reason, datagrams in sends.items():
        assert metric(text, "l3roam_master_dropped_total", reason=reason) == len(datagrams), reason
    assert metric(text, "l3roam_master_dropped_total", reason="replay") == 1
    log = master.log.read_text()
    for reason in ("malformed", "oversized", "bad_mac", "stale", "replay"):
        assert f"event=dropped reason={reason}" in log
    assert master.proc.poll() is None


def test_move_notice_reaches_old_node_and_is_acknowledged(master):
    notices = []
    ap1 = master.client("ap1", on_notice=notices.append)
    ap2 = master.client("ap2")
    assert ap1.call(MessageType.HELLO, {}).ok
    assert ap2.call(MessageType.HELLO, {Field.HANDOFF: IPv6Address("fc00:2::d4")}).ok
    mac = "02:00:00:00:0a:01"
    bound = ap1.call(MessageType.LEASE, {Field.OP: int(LeaseOp.BIND), Field.MAC: mac})
    assert bound.ok and bound.seq == 1
    claim = ap2.call(MessageType.CLAIM, {Field.MAC: mac, Field.SEQ: 0})
    assert claim.ok and claim.ip == bound.ip and claim.prev_node == "ap1" and claim.seq == 2
    end = time.monotonic() + 3
    while not notices and time.monotonic() < end:
        ap1.wait(timeout=0.05)
        ap1.on_readable()
    assert len(notices) == 1
    n = notices[0]
    assert (n.mac, n.ip, n.new_node, n.seq, n.handoff) == (mac, bound.ip, "ap2", 2,
                                                           IPv6Address("fc00:2::d4"))
    end = time.monotonic() + 3
    while "event=notice_acked" not in master.log.read_text() and time.monotonic() < end:
        time.sleep(0.05)
    assert f"event=notice_acked mac={mac} node=ap1" in master.log.read_text()
    stale = ap1.call(MessageType.CLAIM, {Field.MAC: mac, Field.SEQ: 2})
    assert not stale.ok and stale.reason == "stale_sequence" and stale.node == "ap2"
    ap1.close()
    ap2.close()


def test_ctl_lists_and_looks_up_and_shows_metrics(master):
    c = master.client("ap7")
    ans = c.call(MessageType.LEASE, {Field.OP: int(LeaseOp.BIND), Field.MAC: "02:00:00:00:0b:01",
                                     Field.HOSTNAME: "laptop"})
    c.close()

    def ctl(*args):
        return subprocess.run([sys.executable, "-m", "l3roam", "ctl", "--config", str(master.config),
                               *args], capture_output=True, text=True, timeout=30)

    leases = ctl("leases")
    assert leases.returncode == 0
    assert "02:00:00:00:0b:01" in leases.stdout and str(ans.ip) in leases.stdout
    assert "node=ap7" in leases.stdout and "host=laptop" in leases.stdout
    look = ctl("lookup", str(ans.ip))
    assert look.returncode == 0 and "02:00:00:00:0b:01" in look.stdout
    missing = ctl("lookup", "02:ff:ff:ff:ff:ff")
    assert missing.returncode == 1 and "not_found" in missing.stdout
    metrics = ctl("metrics")
    assert 'l3roam_master_leases{state="bound"} 1' in metrics.stdout
    assert "l3roam_master_request_seconds_bucket" in metrics.stdout


def test_sigterm_stops_cleanly_and_state_is_kept(master):
    c = master.client("ap1")
    ip = c.call(MessageType.LEASE, {Field.OP: int(LeaseOp.BIND), Field.MAC: "02:00:00:00:0c:01"}).ip
    c.close()
    assert master.stop() == 0
    assert "event=master_stopped" in master.log.read_text()
    master.start()
    c = master.client("ap1b")
    assert c.call(MessageType.QUERY, {Field.MAC: "02:00:00:00:0c:01"}).ip == ip
    c.close()
