"""One measured roaming run on a built testbed: probes on, moves, probes off, figures.

The UDP prober sends from the server router to the client (100 packets/s by
default); the TCP stream keeper runs from the client to the server's loopback.
``on_move`` runs right after each re-association: the demo leaves it to the
node agents, tests use it to move the client's /32 by hand.

Side effects (processes in namespaces); the figures come from the pure
``l3roam.measure.analysis``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from l3roam.errors import ExternalToolError
from l3roam.measure.analysis import RoamStats, analyse, from_probe_files
from l3roam.testbed.air import Air, MoveRecord
from l3roam.testbed.builder import Testbed
from l3roam.testbed.schedule import Move

PROBE = [sys.executable, "-m", "l3roam.measure.probe"]


@dataclass(frozen=True)
class SessionResult:
    moves: list[MoveRecord]
    roams: list[RoamStats]
    tcp: dict | None
    sent: int
    received: int


def _wait_ready(proc: subprocess.Popen, what: str, timeout: float = 10.0) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # the probes print "ready" once bound
    if line != "ready":
        proc.kill()
        raise ExternalToolError(f"{what} did not start (said {line!r})")


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_session(tb: Testbed, client: str, client_ip: str, moves: list[Move], workdir: Path,
                on_move: Callable[[MoveRecord], None] | None = None, rate: float = 100.0,
                lead_in: float = 1.0, tail: float = 1.0, tcp: bool = True, gap: float = 0.0,
                udp_port: int = 9000, tcp_port: int = 9001) -> SessionResult:
    """Run ``moves`` (offsets from the end of the lead-in) with probes running; return figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = tb.topo.server
    server_ip = str(tb.topo.router(server).loopback)
    duration = lead_in + (moves[-1].at if moves else 0.0) + tail
    procs: list[subprocess.Popen] = []
    try:
        rx = tb.popen(client, PROBE + ["recv", "--port", str(udp_port), "--out", str(workdir / "recv.json")],
                      stdout=subprocess.PIPE, text=True)
        procs.append(rx)
        _wait_ready(rx, "the UDP receiver")
        tcp_client = None
        if tcp:
            srv = tb.popen(server, PROBE + ["tcp-server", "--port", str(tcp_port)], stdout=subprocess.PIPE, text=True)
            procs.append(srv)
            _wait_ready(srv, "the TCP server")
            tcp_client = tb.popen(client, PROBE + ["tcp-client", "--to", server_ip, "--port", str(tcp_port),
                                                   "--out", str(workdir / "tcp.json")],
                                  stdout=subprocess.PIPE, text=True)
            procs.append(tcp_client)
            _wait_ready(tcp_client, "the TCP client")
        tx = tb.popen(server, PROBE + ["send", "--to", client_ip, "--port", str(udp_port), "--rate", str(rate),
                                       "--duration", str(duration), "--out", str(workdir / "send.json")])
        procs.append(tx)
        time.sleep(lead_in)
        records = Air(tb).run(moves, gap=gap, on_move=on_move)
        if tx.wait(timeout=duration + 30) != 0:
            raise ExternalToolError("the UDP sender failed")
        if tcp_client is not None:
            _stop(tcp_client)
        _stop(rx)
    finally:
        for p in procs:
            _stop(p, timeout=5)
    sent, arrivals = from_probe_files(json.loads((workdir / "send.json").read_text()),
                                      json.loads((workdir / "recv.json").read_text()))
    tcp_result = json.loads((workdir / "tcp.json").read_text()) if tcp else None
    return SessionResult(records, analyse(sent, arrivals, [r.t_start for r in records]), tcp_result,
                         len(sent), len(arrivals))
