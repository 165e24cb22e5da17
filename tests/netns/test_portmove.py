"""PortMover: a station port handed between namespaces over netlink ends up exactly where
``ip`` commands would put it (in the new AP's bridge, isolated, up) and carries frames."""

import json

import pytest

from kernel_nsutil import ip, namespaces, ping

from l3roam.kernel.portmove import PortMover

pytestmark = pytest.mark.netns


def _port(ns: str, name: str) -> dict:
    return json.loads(ip(ns, "-j", "-d", "link", "show", name).stdout)[0]


def test_port_moves_into_the_new_bridge_isolated_and_up():
    with namespaces("ap1", "ap2", "cl") as ns:
        for ap in ("ap1", "ap2"):
            ip(ns[ap], "link", "add", "cell0", "type", "bridge")
            ip(ns[ap], "addr", "add", "10.7.0.1/24", "dev", "cell0")
            ip(ns[ap], "link", "set", "cell0", "up")
        ip(ns["cl"], "link", "add", "wlan0", "type", "veth", "peer", "name", "sta-c1", "netns", ns["ap1"])
        ip(ns["cl"], "addr", "add", "10.7.0.9/24", "dev", "wlan0")
        ip(ns["cl"], "link", "set", "wlan0", "up")
        mover = PortMover()
        try:
            mover.hand("sta-c1", ns["ap1"], ns["ap2"], "cell0")
            assert ip(ns["ap1"], "link", "show", "sta-c1", check=False).returncode != 0  # gone from the old AP
            port = _port(ns["ap2"], "sta-c1")
            assert port["master"] == "cell0"
            assert port["linkinfo"]["info_slave_data"]["isolated"] is True
            assert "UP" in port["flags"]
            assert ping(ns["cl"], "10.7.0.1", count=2, wait=2)  # frames cross the new bridge
            mover.hand("sta-c1", ns["ap2"], ns["ap1"], None)  # into a namespace without joining a bridge
            assert "master" not in _port(ns["ap1"], "sta-c1")
        finally:
            mover.close()
