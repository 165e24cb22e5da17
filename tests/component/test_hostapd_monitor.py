"""HostapdMonitor against a scripted peer speaking hostapd's control protocol.

No real hostapd can run here (no radio, no mac80211_hwsim): the peer is a unix
datagram socket that answers ATTACH with OK and then sends event lines, as
hostapd's ctrl_iface does.
"""

import select
import socket
import time

from l3roam.node.hostapd import HostapdMonitor, StationConnected, StationDisconnected


def read_until(mon, n, timeout=3.0):
    out, end = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        if select.select([mon], [], [], 0.1)[0]:
            out += mon.read()
    return out


def test_attach_then_station_events(tmp_path):
    ctrl = tmp_path / "wlan0"
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer.bind(str(ctrl))
    mon = HostapdMonitor(ctrl)
    try:
        peer.settimeout(2)
        msg, client = peer.recvfrom(64)
        assert msg == b"ATTACH"
        peer.sendto(b"OK\n", client)
        peer.sendto(b"<3>AP-STA-CONNECTED 02:11:22:33:44:55", client)
        peer.sendto(b"<3>CTRL-EVENT-EAP-STARTED 02:11:22:33:44:55", client)
        peer.sendto(b"<3>AP-STA-DISCONNECTED 02:11:22:33:44:55", client)
        events = read_until(mon, 2)
        assert mon.attached
        assert events == [StationConnected("02:11:22:33:44:55", "wlan0"),
                          StationDisconnected("02:11:22:33:44:55", "wlan0")]
    finally:
        mon.close()
        peer.close()


def test_hostapd_down_then_back_is_attached_again(tmp_path):
    ctrl = tmp_path / "wlan1"
    mon = HostapdMonitor(ctrl)  # nobody there yet
    try:
        assert not mon.attached
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        peer.bind(str(ctrl))
        peer.settimeout(2)
        mon.tick(time.monotonic() + mon.PING_SECONDS + 1)
        msg, client = peer.recvfrom(64)
        assert msg == b"ATTACH"
        peer.sendto(b"OK\n", client)
        peer.sendto(b"<3>AP-STA-CONNECTED 02:00:00:00:00:07", client)
        assert read_until(mon, 1) == [StationConnected("02:00:00:00:00:07", "wlan1")]
        assert mon.attached
        peer.close()
    finally:
        mon.close()
