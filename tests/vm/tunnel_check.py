"""Run inside the VM (a kernel without SRv6 lightweight tunnels): l3roam's hand-off falls
back to IPv4-in-IPv6 tunnels and still carries packets from the old AP to the new one.

srv -- ap1 == mesh == ap2 -- client, as tests/netns/test_kernel.py's SRv6 test; exit 0 and
"tunnel hand-off ok" when every check passed.
"""

import sys
from ipaddress import IPv4Address, IPv4Interface, IPv6Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "netns"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's l3roam

from kernel_nsutil import ip_json, namespaces, ping, wire_handoff_lab  # noqa: E402

from l3roam.kernel.netlink import HANDOFF_TUNNEL, NetlinkKernel  # noqa: E402


def main() -> int:
    client = IPv4Address("10.99.0.31")
    with namespaces("srv", "ap1", "ap2", "cl") as ns:
        k1, k2 = NetlinkKernel(ns["ap1"]), NetlinkKernel(ns["ap2"])
        try:
            wire_handoff_lab(ns, str(client))
            k1.set_sysctl("net.ipv4.ip_forward", 1)
            k1.install_sid(IPv6Address("fc00:1::d4"), "mesh0")
            k2.install_sid(IPv6Address("fc00:2::d4"), "mesh0")
            # the fallback: the SID is a local address and the flow-based tunnel exists
            addrs = {a["local"] for link in ip_json(ns["ap2"], "-6", "addr", "show", "dev", "lo")
                     for a in link["addr_info"]}
            assert "fc00:2::d4" in addrs, addrs
            assert ip_json(ns["ap2"], "link", "show", HANDOFF_TUNNEL), "no flow-based tunnel"
            k2.setup_gateway("cell", IPv4Interface("10.99.0.1/16"), "02:00:5e:00:00:01")
            k2.add_host_route(client, "cell")
            assert not ping(ns["srv"], str(client), wait=0.5), "ap1 has no route yet"
            k1.redirect_host_route(client, IPv6Address("fc00:2::d4"), "mesh0")  # announced redirect
            assert k1.list_host_routes(), "the redirect is one of our announced host routes"
            assert ping(ns["srv"], str(client), count=3), "packets did not cross the tunnel"
            k1.redirect_host_route(client, IPv6Address("fc00:2::d4"), "mesh0", proto=None, metric=50)
            k1.del_host_route(client)
            assert ping(ns["srv"], str(client), count=3), "the quiet redirect does not carry packets"
            k1.remove_redirect(client, proto=None, metric=50)
            k1.remove_redirect(client, proto=None, metric=50)  # absent is fine
            assert not ping(ns["srv"], str(client), wait=0.5), "the redirect was not removed"
            k2.remove_sid(IPv6Address("fc00:2::d4"))
        finally:
            k1.close()
            k2.close()
    print("tunnel hand-off ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
