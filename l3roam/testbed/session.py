"""One measured run of roams on a built testbed: the runner of the demo, ``testbed roam`` and experiments.

Probes on, the moves, probes off, figures:

- a UDP prober from the server router to the client (100 packets/s by
  default) and, with ``upstream``, one from the client to the server;
- with ``tcp``, a TCP stream from the client to an echo server on the
  server's loopback;
- the moves, carried out by ``l3roam.testbed.air.Air`` with the given roam
  model; ``on_move`` runs right after each re-association (the demo and the
  l3roam design leave it to the node agents; tests and ``--by-hand`` move
  the /32 themselves; the L2 baseline sends its "Layer 2 Update" frame; the
  per-AP-subnet client runs DHCP again).

The probes' files stay in ``workdir`` (``down-send.json``, ``down-recv.json``,
``up-…``, ``tcp.json``) for the report's timeline plots.  Side effects:
processes in namespaces; the figures come from the pure
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
from l3roam.testbed.schedule import Move, shift_phases

PROBE = [sys.executable, "-m", "l3roam.measure.probe"]


@dataclass(frozen=True)
class RunRecords:
    moves: list[MoveRecord]
    down: list[RoamStats]  # server -> client, per roam
    up: list[RoamStats]  # client -> server, per roam (empty without ``upstream``)
    tcp: dict | None
    sent_down: int
    received_down: int
    sent_up: int
    received_up: int
    workdir: Path


def _wait_ready(proc: subprocess.Popen, what: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # the probes print "ready" once bound
    if line != "ready":
        proc.kill()
        proc.wait()
        err = proc.stderr.read()[-1000:] if proc.stderr is not None else ""
        raise ExternalToolError(f"{what} did not start (said {line!r}, exit {proc.returncode}): {err.strip()}")


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def probe_files(workdir: Path, stem: str) -> tuple[dict, dict] | None:
    """The sender's and receiver's JSON of one direction (``down`` or ``up``), if both exist."""
    send_p, recv_p = workdir / f"{stem}-send.json", workdir / f"{stem}-recv.json"
    if not send_p.exists() or not recv_p.exists():
        return None
    return json.loads(send_p.read_text()), json.loads(recv_p.read_text())


def _analyse(workdir: Path, stem: str, roams: list[float]) -> tuple[list[RoamStats], int, int]:
    files = probe_files(workdir, stem)
    if files is None:
        return [], 0, 0
    sent, arrivals = from_probe_files(*files)
    return analyse(sent, arrivals, roams), len(sent), len(arrivals)


def run_roams(tb: Testbed, client: str, client_ip: str, moves: list[Move], workdir: Path,
              on_move: Callable[[MoveRecord], None] | None = None, rate: float = 100.0,
              upstream: bool = True, tcp: bool = True, lead_in: float = 1.0, tail: float = 2.0,
              roam_model: str = "carrier-kept", gap: float = 0.0,
              ports: tuple[int, int, int] = (9000, 9001, 9002), phase_seed: int | None = 0) -> RunRecords:
    """Run ``moves`` (offsets from the end of the lead-in) under traffic; keep the raw files.

    ``roam_model`` and ``gap``: how the air moves the client (``l3roam.testbed.air``).

    ``phase_seed``: every move is shifted by a random fraction of the probe interval drawn
    from this seed (None: not shifted).  The probe senders run on a fixed clock and moves
    come at whole multiples of their interval, so without the shift every move of a run
    meets the probe stream at the same phase, and whether the one probe sent in the first
    milliseconds is lost decides all roams alike (seen: 0 of 100 lost on one testbed, 100
    of 100 on another, from start-up timing alone).  The same seed gives every design of a
    comparison the same shifts.
    """
    if phase_seed is not None and rate > 0:
        moves = shift_phases(moves, 1.0 / rate, phase_seed)
    workdir.mkdir(parents=True, exist_ok=True)
    air = Air(tb, roam_model, gap)
    server = tb.topo.server
    server_ip = str(tb.topo.router(server).loopback)
    duration = lead_in + (moves[-1].at if moves else 0.0) + tail
    down_port, tcp_port, up_port = ports
    procs: list[subprocess.Popen] = []
    tcp_client = None
    try:
        rx = tb.popen(client, PROBE + ["recv", "--port", str(down_port), "--out", str(workdir / "down-recv.json")],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(rx)
        _wait_ready(rx, "the downstream receiver")
        receivers = [rx]
        if upstream:
            urx = tb.popen(server, PROBE + ["recv", "--port", str(up_port), "--out", str(workdir / "up-recv.json")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(urx)
            _wait_ready(urx, "the upstream receiver")
            receivers.append(urx)
        if tcp:
            srv = tb.popen(server, PROBE + ["tcp-server", "--port", str(tcp_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(srv)
            _wait_ready(srv, "the TCP server")
            tcp_client = tb.popen(client, PROBE + ["tcp-client", "--to", server_ip, "--port", str(tcp_port),
                                                   "--drain", "5", "--out", str(workdir / "tcp.json")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
        records = air.run(moves, on_move=on_move)
        for s in senders:
            if s.wait(timeout=duration + 30) != 0:
                raise ExternalToolError("a UDP sender failed")
        time.sleep(0.3)  # the last packets in flight
        if tcp_client is not None:
            _stop(tcp_client)
        for r in receivers:
            _stop(r)
    finally:
        air.close()
        for p in procs:
            _stop(p, timeout=5)
    at = [r.t_start for r in records]
    down, sd, rd = _analyse(workdir, "down", at)
    up, su, ru = _analyse(workdir, "up", at) if upstream else ([], 0, 0)
    tcp_result = None
    if tcp and (workdir / "tcp.json").exists():
        tcp_result = json.loads((workdir / "tcp.json").read_text())
    return RunRecords(records, down, up, tcp_result, sd, rd, su, ru, workdir)
