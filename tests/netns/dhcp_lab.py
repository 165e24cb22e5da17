"""A two-namespace DHCP lab: a responder built on the engine, and real clients.

Used by tests/netns/test_dhcp_clients.py and by tests/data/capture_dhcp.py.
A server namespace and a client namespace joined by a veth pair; in the
server namespace a responder thread reads frames on a packet socket, runs
them through ``DhcpServer`` and answers the engine's ``AskMaster`` requests
with a fake, in-process master (a dict mac -> address).  The node agent will
do the same with its own sockets and the real master.

Every namespace, process and file created here is removed by ``close()``
(the ``DhcpLab`` context manager calls it, also on failure).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Literal

from l3roam.core.dhcp_server import (
    AskMaster,
    DhcpServer,
    DhcpServerSettings,
    MasterAnswer,
    Received,
    SendReply,
)
from l3roam.errors import MalformedPacket
from l3roam.proto import dhcp
from l3roam.proto.udp_frame import build_udp_frame, parse_udp_frame
from l3roam.testbed.dhcpclient import DHCLIENT_CONF, DHCLIENT_SCRIPT, UDHCPC_SCRIPT

CLONE_NEWNET = 0x40000000
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
SERVER_IF = "dhs0"
CLIENT_IF = "dhc0"
SERVER_MAC = "02:00:00:d4:00:fe"
SERVER_ID = IPv4Address("10.99.0.1")
SUBNET = IPv4Network("10.99.0.0/16")

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_names = itertools.count(1)


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def netns_sockets(ns: str, make) -> object:
    """Run ``make()`` (which creates sockets) in a thread inside namespace ``ns``.

    setns(CLONE_NEWNET) changes only the calling thread; sockets keep the
    namespace they were created in after the thread ends.
    """
    result: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            result["value"] = make()
        except OSError as exc:
            result["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]


class FakeMaster:
    """In-process stand-in for the lease master: one sticky address per MAC."""

    def __init__(self, first: IPv4Address = IPv4Address("10.99.0.100"), lease: int = 600):
        self.leases: dict[str, IPv4Address] = {}
        self.mode: Literal["ok", "refused", "unavailable"] = "ok"
        self.lease = lease
        self.asked: list[AskMaster] = []
        self._next = int(first)

    def answer(self, ask: AskMaster) -> MasterAnswer:
        self.asked.append(ask)
        if self.mode != "ok":
            return MasterAnswer(self.mode, reason=f"fake master {self.mode}")
        if ask.op in ("release", "decline", "inform"):
            return MasterAnswer("ok")
        ip = self.leases.get(ask.mac)
        if ip is None:
            if ask.op == "bind" and ask.requested_ip is not None:
                ip = ask.requested_ip  # a client we never saw keeps its address, as after a restart
            else:
                ip = IPv4Address(self._next)
                self._next += 1
            self.leases[ask.mac] = ip
        if ask.op == "bind" and ask.requested_ip != ip:
            return MasterAnswer("refused", reason="address belongs to another client")
        return MasterAnswer("ok", ip, self.lease)


@dataclass
class Captured:
    when: float
    frame: bytes
    message: dhcp.DhcpMessage | None


@dataclass
class Responder:
    """Packet-socket DHCP responder thread around the engine and a FakeMaster."""

    ns: str
    server: DhcpServer
    master: FakeMaster
    captured: list[Captured] = field(default_factory=list)
    actions: list[object] = field(default_factory=list)
    paused: bool = False  # capture frames but do not answer (to provoke client retries)

    def start(self) -> None:
        def make():
            raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
            raw.bind((SERVER_IF, ETH_P_IP))
            # A bound UDP socket keeps the kernel from answering unicast
            # renewals with ICMP port unreachable; the replies go out on `raw`.
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind(("0.0.0.0", dhcp.SERVER_PORT))
            return raw, udp

        self._raw, self._udp = netns_sockets(self.ns, make)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if getattr(self, "_thread", None) is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._raw.close()
        self._udp.close()
        self._thread = None

    def messages(self) -> list[dhcp.DhcpMessage]:
        with self._lock:
            return [c.message for c in self.captured if c.message is not None]

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._raw, self._udp], [], [], 0.05)
            if self._udp in ready:
                self._udp.recv(2048)  # the same message arrives on the packet socket
            if self._raw not in ready:
                continue
            try:
                frame, addr = self._raw.recvfrom(2048)
            except OSError:  # interface going away at teardown
                continue
            if addr[2] == PACKET_OUTGOING:
                continue
            try:
                udp = parse_udp_frame(frame)
            except MalformedPacket:
                continue
            if udp.dport != dhcp.SERVER_PORT:
                continue
            now = time.monotonic()
            try:
                msg = dhcp.decode(udp.payload)
            except MalformedPacket:
                msg = None
            with self._lock:
                self.captured.append(Captured(now, frame, msg))
            if self.paused:
                continue
            meta = Received(SERVER_IF, udp.src_mac, udp.src_ip, udp.sport, udp.dst_ip)
            self._execute(self.server.handle_bytes(udp.payload, meta, now), now)

    def _execute(self, actions: list, now: float) -> None:
        for action in actions:
            with self._lock:
                self.actions.append(action)
            if isinstance(action, AskMaster):
                answer = self.master.answer(action)
                self._execute(self.server.on_master_answer(action.token, answer, now), now)
            elif isinstance(action, SendReply):
                if action.delay:
                    time.sleep(action.delay)  # the node agent schedules this instead of blocking
                frame = build_udp_frame(
                    SERVER_MAC,
                    action.dst_mac,
                    SERVER_ID,
                    action.dst_ip,
                    dhcp.SERVER_PORT,
                    action.dst_port,
                    action.payload,
                )
                self._raw.send(frame)


class DhcpLab:
    """Server and client namespaces joined by a veth pair, with a responder."""

    def __init__(self, tag: str = "t", settings: DhcpServerSettings | None = None):
        uid = f"{os.getpid() % 100000}{next(_names)}"
        self.server_ns = f"l3rt-dh-{tag}{uid}-s"
        self.client_ns = f"l3rt-dh-{tag}{uid}-c"
        self.settings = settings or DhcpServerSettings(
            server_id=SERVER_ID, subnet=SUBNET, domain="mesh.test", lease_time=600
        )
        self.master = FakeMaster()
        self.server = DhcpServer(self.settings)
        self.responder = Responder(self.server_ns, self.server, self.master)
        self.tmp = Path(tempfile.mkdtemp(prefix="l3rt-dh-"))
        self.procs: list[subprocess.Popen] = []
        self._made: list[str] = []

    def __enter__(self) -> "DhcpLab":
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        for ns in (self.server_ns, self.client_ns):
            run("ip", "netns", "add", ns)
            self._made.append(ns)
        run("ip", "link", "add", SERVER_IF, "netns", self.server_ns, "type", "veth",
            "peer", "name", CLIENT_IF, "netns", self.client_ns)
        self.ns_run(self.server_ns, "ip", "link", "set", SERVER_IF, "address", SERVER_MAC)
        self.ns_run(self.server_ns, "ip", "addr", "add", f"{SERVER_ID}/{SUBNET.prefixlen}", "dev", SERVER_IF)
        for ns, dev in ((self.server_ns, SERVER_IF), (self.client_ns, CLIENT_IF)):
            self.ns_run(ns, "ip", "link", "set", "lo", "up")
            self.ns_run(ns, "ip", "link", "set", dev, "up")
        self.responder.start()

    def close(self) -> None:
        self.responder.stop()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=5)
        for ns in self._made:
            pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run("ip", "netns", "delete", ns, check=False)
        self._made.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ns_run(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ip", "netns", "exec", ns, *cmd, check=check)

    def set_client_mac(self, mac: str) -> None:
        self.ns_run(self.client_ns, "ip", "link", "set", CLIENT_IF, "down")
        self.ns_run(self.client_ns, "ip", "-4", "addr", "flush", "dev", CLIENT_IF)
        self.ns_run(self.client_ns, "ip", "link", "set", CLIENT_IF, "address", mac)
        self.ns_run(self.client_ns, "ip", "link", "set", CLIENT_IF, "up")

    def client_addresses(self) -> list[str]:
        out = self.ns_run(self.client_ns, "ip", "-4", "-o", "addr", "show", "dev", CLIENT_IF).stdout
        return [line.split()[3] for line in out.splitlines()]

    def spawn(self, *cmd: str) -> subprocess.Popen:
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.client_ns, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(p)
        return p

    # --- udhcpc ---

    def udhcpc_files(self) -> tuple[Path, Path]:
        state = self.tmp / "udhcpc.state"
        script = self.tmp / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT.replace("{state}", str(state)))
        script.chmod(0o755)
        return script, state

    def start_udhcpc(self, hostname: str = "golden-udhcpc") -> tuple[subprocess.Popen, Path]:
        script, state = self.udhcpc_files()
        p = self.spawn("udhcpc", "-f", "-i", CLIENT_IF, "-s", str(script), "-t", "10", "-T", "1",
                       "-A", "1", "-R", "-x", f"hostname:{hostname}", "-O", "domain")
        return p, state

    # --- dhclient ---

    def dhclient_args(self, hostname: str) -> list[str]:
        state = self.tmp / "dhclient.state"
        script = self.tmp / "dhclient.sh"
        conf = self.tmp / "dhclient.conf"
        script.write_text(DHCLIENT_SCRIPT.replace("{state}", str(state)))
        script.chmod(0o755)
        conf.write_text(DHCLIENT_CONF.format(hostname=hostname))
        return ["-sf", str(script), "-cf", str(conf), "-lf", str(self.tmp / "dhclient.leases"),
                "-pf", str(self.tmp / "dhclient.pid")]

    def start_dhclient(self, hostname: str = "golden-dhclient") -> tuple[subprocess.Popen, Path]:
        p = self.spawn("dhclient", "-d", "-4", *self.dhclient_args(hostname), CLIENT_IF)
        return p, self.tmp / "dhclient.state"

    def release_dhclient(self, hostname: str = "golden-dhclient") -> None:
        self.ns_run(self.client_ns, "timeout", "10", "dhclient", "-r", "-4", *self.dhclient_args(hostname), CLIENT_IF)


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def state_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def write_pcap(path: Path, frames: list[tuple[float, bytes]]) -> None:
    """Classic pcap (LINKTYPE_ETHERNET), microsecond timestamps."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for when, frame in frames:
        sec = int(when)
        out.append(struct.pack("<IIII", sec, int((when - sec) * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


def read_pcap(path: Path) -> list[bytes]:
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    if magic != 0xA1B2C3D4:
        raise ValueError("only little-endian microsecond pcap files are supported")
    frames, i = [], 24
    while i + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, i)
        frames.append(data[i + 16 : i + 16 + incl])
        i += 16 + incl
    return frames
