"""The testbed's exit to the internet, as plan steps (pure: no I/O).

With ``internet.exits`` set, the testbed gets one more namespace,
``<prefix>inet``, standing for the internet: it holds the application
servers' address (``internet.server``, a /32 on ``lo``) and one uplink per
exit router.  Each exit:

- has a veth ``inet0`` to the internet namespace (``x-<router>`` there), a
  /30 of ``internet.uplinks`` per exit (exit k: ``.4k+1`` on its side,
  ``.4k+2`` on the internet side);
- installs ``default via <internet side> dev inet0 proto 46`` and its babeld
  redistributes that default route (``redistribute proto 46 ip 0.0.0.0/0 eq
  0``): babel carries it to every router, which picks the nearest exit;
- masquerades everything it sends up (nftables ``masquerade`` on ``oifname
  inet0``), with conntrack accounting on so a run can tell which exit carried
  which flow (``l3roam.apps.conntrack``).

The internet namespace routes only to the exits' /30s: nothing comes back
unless the exit's NAT translated it, as on the real internet.  Uplinks are
not shaped here (this kernel has tbf and htb but no fair-queueing qdisc, so a
shaped shared uplink would let a bulk download drop a call's packets); an
application that needs a rate-limited path shapes its own traffic
(``l3roam.apps.servers``).

An exit must not be an AP (``l3roam.testbed.topology`` refuses it): see
babeld's flush_xroute() bug in ``l3roam.babel.config``.
"""

from __future__ import annotations

import ipaddress

from l3roam.testbed.plan import EXIT_PROTO, Cmd, DeleteNetns, Step, ns_name

INET = "inet"
EXIT_IFNAME = "inet0"
NAT_TABLE = "l3roam_nat"


def uplink_ifname(router: str) -> str:
    """The internet namespace's end of an exit's uplink."""
    return f"x-{router}"


def uplink_addresses(uplinks: ipaddress.IPv4Network, k: int) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """(exit side, internet side) of the k-th exit's /30 (k from 0)."""
    base = uplinks.network_address + 4 * k
    return base + 1, base + 2


def nat_ruleset() -> str:
    return (f"table ip {NAT_TABLE} {{\n"
            f"  chain post {{ type nat hook postrouting priority srcnat; oifname \"{EXIT_IFNAME}\" masquerade; }}\n"
            "}\n")


def internet_steps(prefix: str, exits: tuple[str, ...], server: ipaddress.IPv4Address,
                   uplinks: ipaddress.IPv4Network, mtu: int) -> list[Step]:
    """Steps building the internet namespace and every exit's uplink and NAT (before babeld starts)."""
    if not exits:
        return []
    inet = ns_name(prefix, INET)
    steps = [Step(f"namespace {inet}", (
        Cmd(("ip", "netns", "add", inet)),
        Cmd(("ip", "-n", inet, "link", "set", "lo", "up")),
        Cmd(("ip", "-n", inet, "addr", "add", f"{server}/32", "dev", "lo")),
    ), (DeleteNetns(inet),))]
    for k, router in enumerate(exits):
        ns = ns_name(prefix, router)
        mine, theirs = uplink_addresses(uplinks, k)
        far = uplink_ifname(router)
        do = [
            Cmd(("ip", "link", "add", EXIT_IFNAME, "netns", ns, "mtu", str(mtu), "type", "veth",
                 "peer", "name", far, "netns", inet, "mtu", str(mtu))),
            Cmd(("ip", "-n", ns, "-batch", "-"), stdin=(
                f"addr add {mine}/30 dev {EXIT_IFNAME}\n"
                f"link set {EXIT_IFNAME} up\n"
                f"route replace default via {theirs} dev {EXIT_IFNAME} proto {EXIT_PROTO}\n")),
            Cmd(("ip", "-n", inet, "-batch", "-"), stdin=(
                f"addr add {theirs}/30 dev {far}\n"
                f"link set {far} up\n")),
            Cmd(("ip", "netns", "exec", ns, "nft", "-f", "-"), stdin=nat_ruleset()),  # loads conntrack
            Cmd(("ip", "netns", "exec", ns, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1")),
        ]
        steps.append(Step(f"exit {router}", tuple(do),
                          (Cmd(("ip", "-n", ns, "link", "del", EXIT_IFNAME), tolerant=True),)))
    return steps
