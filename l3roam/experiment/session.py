"""One measured run of roams: UDP both ways, a TCP stream, the moves, the raw records.

Like ``l3roam.measure.session.run_session`` but with an upstream prober
(client -> server) as well as the downstream one, and it keeps the probes'
files in the run's output directory for the report (timeline plots).
``on_move`` runs right after each re-association (the scenario's hook: the
L2 baseline's "Layer 2 Update" frame, the per-AP-subnet client's new DHCP).

Side effects (processes in namespaces); figures come from the pure
``l3roam.measure.analysis``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from l3roam.errors import ExternalToolError
from l3roam.measure.analysis import RoamStats, analyse, from_probe_files
from l3roam.measure.session import PROBE, _stop, _wait_ready
from l3roam.testbed.air import Air, MoveRecord
from l3roam.testbed.builder import Testbed
from l3roam.testbed.schedule import Move


@dataclass(frozen=True)
class RunRecords:
    moves: list[MoveRecord]
    down: list[RoamStats]
    up: list[RoamStats]
    tcp: dict | None
    sent_down: int
    received_down: int
    sent_up: int
    received_up: int


def _analyse(workdir: Path, stem: str, roams: list[float]) -> tuple[list[RoamStats], int, int]:
    send_p, recv_p = workdir / f"{stem}-send.json", workdir / f"{stem}-recv.json"
    if not send_p.exists() or not recv_p.exists():
        return [], 0, 0
    sent, arrivals = from_probe_files(json.loads(send_p.read_text()), json.loads(recv_p.read_text()))
    return analyse(sent, arrivals, roams), len(sent), len(arrivals)


def measure_roams(tb: Testbed, client: str, client_ip: str, moves: list[Move], workdir: Path,
                  on_move: Callable[[MoveRecord], None] | None = None, rate: float = 100.0,
                  upstream: bool = True, tcp: bool = True, lead_in: float = 1.0, tail: float = 2.0,
                  ports: tuple[int, int, int] = (9000, 9001, 9002)) -> RunRecords:
    """Run ``moves`` (offsets from the end of the lead-in) under traffic; keep the raw files."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = tb.topo.server
    server_ip = str(tb.topo.router(server).loopback)
    duration = lead_in + (moves[-1].at if moves else 0.0) + tail
    down_port, tcp_port, up_port = ports
    procs: list[subprocess.Popen] = []
    tcp_client = None
    try:
        rx = tb.popen(client, PROBE + ["recv", "--port", str(down_port), "--out", str(workdir / "down-recv.json")],
                      stdout=subprocess.PIPE, text=True)
        procs.append(rx)
        _wait_ready(rx, "the downstream receiver")
        receivers = [rx]
        if upstream:
            urx = tb.popen(server, PROBE + ["recv", "--port", str(up_port), "--out", str(workdir / "up-recv.json")],
                           stdout=subprocess.PIPE, text=True)
            procs.append(urx)
            _wait_ready(urx, "the upstream receiver")
            receivers.append(urx)
        if tcp:
            srv = tb.popen(server, PROBE + ["tcp-server", "--port", str(tcp_port)], stdout=subprocess.PIPE, text=True)
            procs.append(srv)
            _wait_ready(srv, "the TCP server")
            tcp_client = tb.popen(client, PROBE + ["tcp-client", "--to", server_ip, "--port", str(tcp_port),
                                                   "--drain", "5", "--out", str(workdir / "tcp.json")],
                                  stdout=subprocess.PIPE, text=True)
            procs.append(tcp_client)
            _wait_ready(tcp_client, "the TCP client")
        senders = [tb.popen(server, PROBE + ["send", "--to", client_ip, "--port", str(down_port), "--rate", str(rate),
                                             "--duration", str(duration), "--run-id", "1",
                                             "--out", str(workdir / "down-send.json")])]
        if upstream:
            senders.append(tb.popen(client, PROBE + ["send", "--to", server_ip, "--port", str(up_port),
                                                     "--rate", str(rate), "--duration", str(duration),
                                                     "--run-id", "2", "--out", str(workdir / "up-send.json")]))
        procs.extend(senders)
        time.sleep(lead_in)
        records = Air(tb).run(moves, on_move=on_move)
        for s in senders:
            if s.wait(timeout=duration + 30) != 0:
                raise ExternalToolError("a UDP sender failed")
        time.sleep(0.3)  # the last packets in flight
        if tcp_client is not None:
            _stop(tcp_client)
        for r in receivers:
            _stop(r)
    finally:
        for p in procs:
            _stop(p, timeout=5)
    at = [r.t_start for r in records]
    down, sd, rd = _analyse(workdir, "down", at)
    up, su, ru = _analyse(workdir, "up", at) if upstream else ([], 0, 0)
    tcp_result = None
    if tcp and (workdir / "tcp.json").exists():
        tcp_result = json.loads((workdir / "tcp.json").read_text())
    return RunRecords(records, down, up, tcp_result, sd, rd, su, ru)


def tcp_alive_at(tcp: dict | None, roam_at: float) -> bool | None:
    """Was the TCP stream alive through this roam?  None without a TCP probe.

    Alive at the end: yes.  Broken: the roam before the failure (or before
    the start of the longest stall, which never ended) kept it.
    """
    if tcp is None:
        return None
    if tcp.get("alive"):
        return True
    broke = tcp.get("failed_at_ns") or tcp.get("stall_at_ns")
    if broke is None:
        return False
    broke_s = broke / 1e9
    return broke_s > roam_at
