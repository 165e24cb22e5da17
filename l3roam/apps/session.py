"""One run of the application probes across a list of roams (side effects: processes, captures).

Order: the internet side (``l3roam.apps.servers``), packet captures (RTP
port and SRv6 on every router, the RTP port in the client and the
internet), a sampler of the exits' conntrack tables and of the download's
TCP retransmissions, then the clients (HLS player, curl, RTMP player and
publisher, sipp caller); ``lead_in`` seconds later the roams, ``tail``
seconds after the last one everything stops.  The raw files stay in the
run's directory; ``l3roam.apps.analysis`` turns them into figures.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from l3roam.apps import nginxconf, sip
from l3roam.apps.media import Media
from l3roam.apps.servers import AppServers
from l3roam.apps.spec import AppsSpec
from l3roam.apps.procs import stop as _stop, wait_ready as _wait_ready
from l3roam.testbed.air import Air, MoveRecord
from l3roam.testbed.builder import Testbed
from l3roam.testbed.internet import INET
from l3roam.testbed.schedule import Move
from l3roam.testbed.topology import CLIENT_IFNAME

ROUTER_FILTER = f"udp port {sip.MEDIA_PORT} or (ip6 and ip6[6] == 43)"
RTP_FILTER = f"udp port {sip.MEDIA_PORT}"


def _popen(tb: Testbed, node: str, argv: list[str], err: Path) -> subprocess.Popen:
    """A probe process whose first line on stdout says "ready"; its stderr goes to ``err``."""
    with open(err, "wb") as f:
        return tb.popen(node, argv, stdout=subprocess.PIPE, stderr=f, text=True)


def rate_bits(rate: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)bit", rate)
    if not m:
        raise ValueError(f"not a rate: {rate}")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)]


class Captures:
    """tcpdump in each namespace, to ``<dir>/cap-<node>.pcap``."""

    def __init__(self, tb: Testbed, directory: Path):
        self.tb, self.dir = tb, directory
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, node: str, iface: str, bpf: str) -> None:
        err = open(self.dir / f"cap-{node}.err", "wb")
        self.procs[node] = self.tb.popen(node, ["tcpdump", "-i", iface, "-n", "-s", "160", "-U",
                                                "--time-stamp-precision", "nano", "-w",
                                                str(self.dir / f"cap-{node}.pcap"), bpf],
                                         stdout=subprocess.DEVNULL, stderr=err)
        err.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        pending = set(self.procs)
        while pending and time.monotonic() < end:
            for node in list(pending):
                if b"listening on" in (self.dir / f"cap-{node}.err").read_bytes():
                    pending.discard(node)
            time.sleep(0.05)
        if pending:
            raise RuntimeError(f"tcpdump did not start in {sorted(pending)}")

    def stop(self) -> None:
        for p in self.procs.values():
            _stop(p, timeout=5)


class Sampler(threading.Thread):
    """Every ``period`` s: ``conntrack -L`` at each exit, the download's TCP state at the server."""

    def __init__(self, tb: Testbed, period: float = 1.0):
        super().__init__(daemon=True, name="apps-sampler")
        self.tb, self.period = tb, period
        self.halt = threading.Event()
        self.conntrack: list[tuple[float, str, str]] = []
        self.tcp: list[tuple[float, str]] = []

    def sample(self) -> None:
        for exit_ in self.tb.topo.exits:
            out = self.tb.exec(exit_, ["conntrack", "-L"], check=False)
            self.conntrack.append((time.time(), exit_, out.stdout))
        out = self.tb.exec(INET, ["ss", "-tinH", "state", "established", "(", "sport", "=",
                                  f":{nginxconf.DOWNLOAD_PORT}", ")"], check=False)
        self.tcp.append((time.time(), out.stdout))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.period)

    def finish(self) -> None:
        self.halt.set()
        self.join(timeout=10)
        self.sample()


def run_apps(tb: Testbed, client: str, moves: list[Move], workdir: Path, spec: AppsSpec, media: Media,
             still_seconds: float, on_move: Callable[[MoveRecord], None] | None = None,
             say: Callable[[str], None] = print) -> dict:
    """Run the probes across ``moves``; returns where everything was written and the move records."""
    workdir.mkdir(parents=True, exist_ok=True)
    probes = spec.probes
    server = str(tb.topo.spec.internet.server)
    span = (moves[-1].at if moves else still_seconds)
    duration = spec.lead_in + span + spec.tail
    dl_size = int(rate_bits(spec.download_rate) / 8 * max(5.0, duration - spec.lead_in / 2) * 0.8)
    servers = AppServers(tb, media, workdir, spec.download_rate, probes)
    caps = Captures(tb, workdir)
    sampler = Sampler(tb)
    clients: dict[str, subprocess.Popen] = {}
    records: list[MoveRecord] = []
    sip_rc: int | None = None
    rtp_seconds = duration - 3.0
    t_clients = time.time()
    try:
        servers.start(int(duration / 2) + 10, dl_size)
        for r in tb.topo.routers:
            caps.start(r.name, "any", ROUTER_FILTER)
        caps.start(client, CLIENT_IFNAME, RTP_FILTER)
        caps.start(INET, "any", RTP_FILTER)
        caps.wait_ready()
        sampler.start()
        py = [sys.executable, "-m"]
        t_clients = time.time()
        if "sip" in probes:
            pcap_path = media.rtp_pcap(workdir / "rtp.pcap", rtp_seconds)
            xml = workdir / "caller.xml"
            xml.write_text(sip.caller_xml(str(pcap_path), int((duration - 2.5) * 1000)))
            ip = tb.client_address(client) or ""
            with open(workdir / "caller.out", "wb") as screen:
                clients["sip"] = tb.popen(client, sip.caller_argv(str(xml), ip, server, str(workdir),
                                                                  int(duration + 20)),
                                          stdout=screen, stderr=subprocess.STDOUT)
        if "hls" in probes:
            clients["hls"] = tb.popen(client, py + ["l3roam.apps.hls", "--url",
                                                    f"http://{server}:{nginxconf.HLS_PORT}/index.m3u8",
                                                    "--duration", f"{duration:.1f}", "--out", str(workdir / "hls.json"),
                                                    "--max-buffer", str(spec.hls_max_buffer),
                                                    "--timeout", str(spec.hls_timeout)],
                                      stdout=subprocess.PIPE, text=True)
            _wait_ready(clients["hls"], "the HLS player")
        if "download" in probes:
            clients["download"] = tb.popen(client, py + [
                "l3roam.apps.fetch", "--url", f"http://{server}:{nginxconf.DOWNLOAD_PORT}/download.bin",
                "--out", str(workdir / "download.json"), "--expected", str(dl_size),
                "--max-time", str(int(duration + 60))], stdout=subprocess.PIPE, text=True)
            _wait_ready(clients["download"], "the download")
        if "rtmp" in probes:
            rtmp = f"rtmp://{server}:{nginxconf.RTMP_PORT}/live"
            ff = ["ffmpeg", "-nostdin", "-loglevel", "warning"]
            clients["rtmp-play"] = _popen(tb, client, py + [
                "l3roam.apps.ffwatch", "--out", str(workdir / "rtmp-down-play.json"), "--",
                *ff, "-rw_timeout", "10000000", "-i", f"{rtmp}/down", "-c", "copy", "-f", "null", "-"],
                workdir / "rtmp-down-play.stderr")
            clients["rtmp-pub"] = _popen(tb, client, py + [
                "l3roam.apps.ffwatch", "--out", str(workdir / "rtmp-up-pub.json"), "--",
                *ff, "-re", "-stream_loop", "-1", "-i", str(media.flv), "-c", "copy", "-f", "flv",
                "-rw_timeout", "10000000", f"{rtmp}/up"], workdir / "rtmp-up-pub.stderr")
            clients["rtmp-recv"] = _popen(tb, INET, py + [
                "l3roam.apps.ffwatch", "--out", str(workdir / "rtmp-up-recv.json"), "--",
                *ff, "-rw_timeout", "10000000", "-i", f"{rtmp}/up", "-c", "copy", "-f", "null", "-"],
                workdir / "rtmp-up-recv.stderr")
            for k in ("rtmp-play", "rtmp-pub", "rtmp-recv"):
                _wait_ready(clients[k], k)
        time.sleep(max(0.0, t_clients + spec.lead_in - time.time()))
        if moves:
            records = Air(tb).run(moves, on_move=on_move)
        time.sleep(max(0.0, t_clients + duration - time.time()))
        for k in ("rtmp-recv", "rtmp-play", "rtmp-pub", "download"):  # receivers before senders
            if k in clients:
                _stop(clients.pop(k), timeout=10)
        if "hls" in clients:
            clients.pop("hls").wait(timeout=30)
        if "sip" in clients:
            try:
                sip_rc = clients["sip"].wait(timeout=15)
            except subprocess.TimeoutExpired:
                say("    the sipp caller did not finish; stopped")
            _stop(clients.pop("sip"), timeout=5)
        time.sleep(0.3)
    finally:
        for p in clients.values():
            _stop(p, timeout=5)
        if sampler.is_alive():
            sampler.finish()
        caps.stop()
        servers.stop()
    sip_exit = None
    out_txt = workdir / "caller.out"
    if out_txt.exists():
        m = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", out_txt.read_text(errors="replace"))
        sip_exit = int(m[-1]) if m else 0
    meta = {"t_clients": t_clients, "duration": duration, "lead_in": spec.lead_in, "download_size": dl_size,
            "server": server, "exits": list(tb.topo.exits), "routers": [r.name for r in tb.topo.routers],
            "client": client, "sip_successful_calls": sip_exit, "sip_exit": sip_rc,
            "rtp_packets": int(rtp_seconds * 50), "rtp_rate": 50,
            "moves": [{"src": r.src, "dst": r.dst, "t_start": r.t_start, "t_end": r.t_end} for r in records],
            "conntrack": sampler.conntrack, "download_tcp": sampler.tcp}
    (workdir / "apps-meta.json").write_text(json.dumps(meta))
    return meta
