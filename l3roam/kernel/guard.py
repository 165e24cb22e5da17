"""Station binding on the real kernel: nftables rules and permanent neighbours.

``StationGuard`` carries out what ``guard_rules`` describes, on the kernel's
namespace thread: the ruleset (replaced atomically at start, keeping the pairs
already bound, so a restarted agent does not cut its clients off), one set
element and one permanent neighbour entry per served client, and the drop
counters.  The neighbour entry (``ip neigh replace C lladdr M nud permanent``)
means the AP never learns the client's MAC from ARP at all: even a frame that
slipped past the filter could not move the address to another MAC.
"""

from __future__ import annotations

import errno
import logging
from ipaddress import IPv4Address
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError

from l3roam.errors import KernelError
from l3roam.kernel import guard_rules as G
from l3roam.kernel.nft import Nft
from l3roam.log import event

log = logging.getLogger(__name__)
NUD_PERMANENT = 0x80


def is_bridge(ifname: str) -> bool:
    """Run in the namespace: is ``ifname`` a bridge (sysfs has its ``bridge`` directory)?"""
    return Path(f"/sys/class/net/{ifname}/bridge").is_dir()


class StationGuard:
    def __init__(self, ns, ipr, settings: G.GuardSettings):
        self._ns = ns  # NamespaceThread of the kernel
        self._ipr = ipr
        self.s = settings
        self._nft: Nft = ns.run(Nft)

    def _run(self, text: str, what: str) -> str:
        return self._ns.run(self._nft.run, text, what)

    def bindings(self) -> list[G.Binding]:
        try:
            listing = self._ns.run(self._nft.json, f"list set {self.s.family} {self.s.table} bound")
        except KernelError:
            return []  # no table yet
        return G.parse_bindings(listing)

    def setup(self) -> None:
        kept = self.bindings()
        self._run(G.ruleset(self.s, kept), f"load station binding rules on {self.s.device}")
        event(log, "guard_ready", device=self.s.device, family=self.s.family, kept=len(kept))

    def teardown(self, ifindex: int) -> None:
        """Remove the rules and every binding's permanent neighbour entry."""
        for b in self.bindings():
            self._neigh("del", ifindex, b.ip, None)
        self._run(G.delete_table(self.s), "remove station binding rules")

    def _neigh(self, op: str, ifindex: int, ip: IPv4Address, mac: str | None) -> None:
        kw = dict(dst=str(ip), ifindex=ifindex)
        if mac is not None:
            kw.update(lladdr=mac, state=NUD_PERMANENT)
        try:
            self._ns.run(lambda: self._ipr.neigh(op, **kw))
        except NetlinkError as exc:
            if op == "del" and exc.code in (errno.ENOENT, errno.ESRCH):
                return
            raise KernelError(f"{op} neighbour {ip} on {self.s.device}", exc.code, str(exc)) from None

    def bind(self, ifindex: int, ip: IPv4Address, mac: str) -> None:
        b = G.Binding(mac.lower(), ip)
        self._neigh("replace", ifindex, ip, b.mac)
        self._run(G.add_binding(self.s, b), f"bind {ip} to {mac}")
        event(log, "station_bound", ip=ip, mac=mac)

    def unbind(self, ifindex: int, ip: IPv4Address, mac: str, keep_element: bool = False) -> None:
        if not keep_element:
            self._run(G.del_binding(self.s, G.Binding(mac.lower(), ip)), f"unbind {ip} from {mac}")
        self._neigh("del", ifindex, ip, None)
        event(log, "station_unbound", ip=ip, mac=mac, admitted=keep_element)

    def admit(self, add: dict[IPv4Address, str], remove: dict[IPv4Address, str]) -> None:
        """Set elements only, in one transaction (each line idempotent, so it cannot fail)."""
        text = "".join(G.del_binding(self.s, G.Binding(mac.lower(), ip)) for ip, mac in remove.items())
        text += "".join(G.add_binding(self.s, G.Binding(mac.lower(), ip)) for ip, mac in add.items())
        if text:
            self._run(text, f"admit {len(add)} leased pairs, drop {len(remove)}")

    def port(self, ifname: str, mark: int | None, old: int | None = None) -> None:
        """Mark DHCP from station port ``ifname`` with ``mark`` (None: forget the port).

        ``old`` is the port's mark now, as the caller gave it (``setup`` starts the map
        empty), so every change is one transaction that cannot fail: a station's arrival
        waits for it."""
        if old == mark:
            return
        text = G.del_port(self.s, ifname, old) if old is not None else ""
        if mark is not None:
            text += G.add_port(self.s, ifname, mark)
        try:
            self._run(text, f"mark port {ifname}")
        except KernelError:  # changed behind our back: forget what is there, then set
            try:
                self._run(G.del_port(self.s, ifname), f"forget port {ifname}")
            except KernelError:
                pass  # it was not there
            if mark is not None:
                self._run(G.add_port(self.s, ifname, mark), f"mark port {ifname}")

    def counters(self) -> dict[str, int]:
        try:
            listing = self._ns.run(self._nft.json, f"list counters table {self.s.family} {self.s.table}")
        except KernelError:
            return {r: 0 for r in G.REASONS}
        return G.parse_counters(listing)

    def close(self) -> None:
        self._ns.run(self._nft.close)
