"""Station events from hostapd's control interface: association on real Wi-Fi APs.

hostapd (``ctrl_interface=/var/run/hostapd``) listens on one unix datagram
socket per radio interface.  A client binds a socket of its own, sends
``ATTACH`` and then receives unsolicited event lines such as::

    <3>AP-STA-CONNECTED 02:11:22:33:44:55
    <3>AP-STA-DISCONNECTED 02:11:22:33:44:55
    <3>AP-STA-CONNECTED 02:11:22:33:44:55 keyid=... p2p_dev_addr=...

``parse_event`` is pure; ``HostapdMonitor`` is the socket side, polled by the
agent's loop like the link monitor (``fileno()``, ``read()``).  It sends
ATTACH again once a PING failed (hostapd was down); a hostapd restarted between
two PINGs (10 s) is not noticed.  Not testable against a real hostapd on
a machine without a radio (no mac80211_hwsim here): the tests drive it with a
scripted peer that speaks the same datagram protocol.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from l3roam.log import event

log = logging.getLogger("l3roam.node.hostapd")

_EVENT = re.compile(r"^(?:<\d>)?(AP-STA-CONNECTED|AP-STA-DISCONNECTED)\s+([0-9a-fA-F:]{17})\b")


@dataclass(frozen=True)
class StationConnected:
    mac: str
    ifname: str


@dataclass(frozen=True)
class StationDisconnected:
    mac: str
    ifname: str


def parse_event(line: str, ifname: str) -> StationConnected | StationDisconnected | None:
    m = _EVENT.match(line.strip())
    if not m:
        return None
    mac = m.group(2).lower()
    return StationConnected(mac, ifname) if m.group(1) == "AP-STA-CONNECTED" else \
        StationDisconnected(mac, ifname)


class HostapdMonitor:
    PING_SECONDS = 10.0

    def __init__(self, ctrl_path: str | Path, ifname: str | None = None):
        self.ctrl_path = str(ctrl_path)
        self.ifname = ifname or Path(ctrl_path).name
        self._dir = tempfile.mkdtemp(prefix="l3roam-hostapd-")
        self._local = os.path.join(self._dir, "ctrl")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self._local)
        self.sock.setblocking(False)
        self.attached = False
        self._last_ping = 0.0
        self.attach()

    def fileno(self) -> int:
        return self.sock.fileno()

    def attach(self) -> bool:
        try:
            self.sock.sendto(b"ATTACH", self.ctrl_path)
        except OSError as exc:
            self.attached = False
            event(log, "hostapd_unreachable", level=logging.WARNING, ctrl=self.ctrl_path,
                  error=exc.strerror)
            return False
        self._last_ping = time.monotonic()
        return True

    def read(self) -> list[StationConnected | StationDisconnected]:
        out = []
        while True:
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.attached = False
                break
            text = data.decode(errors="replace")
            if text.startswith("OK"):
                if not self.attached:
                    event(log, "hostapd_attached", ctrl=self.ctrl_path)
                self.attached = True
                continue
            if text.startswith("PONG"):
                continue
            ev = parse_event(text, self.ifname)
            if ev is not None:
                out.append(ev)
        return out

    def tick(self, now_monotonic: float | None = None) -> None:
        """Keep attached: ATTACH again if hostapd went away and came back."""
        now = time.monotonic() if now_monotonic is None else now_monotonic
        if now - self._last_ping < self.PING_SECONDS:
            return
        self._last_ping = now
        try:
            self.sock.sendto(b"ATTACH" if not self.attached else b"PING", self.ctrl_path)
        except OSError:
            self.attached = False

    def close(self) -> None:
        try:
            if self.attached:
                self.sock.sendto(b"DETACH", self.ctrl_path)
        except OSError:
            pass
        self.sock.close()
        try:
            os.unlink(self._local)
            os.rmdir(self._dir)
        except OSError:
            pass
