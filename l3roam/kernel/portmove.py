"""Move a network device between namespaces and into a bridge over netlink, in-process.

The testbed's radio stand-in hands a client's station port from one AP's
namespace to another's (``l3roam.testbed.air``) with ``ip`` commands: two
process starts per move, 20-40 ms on an ordinary host but 150-600 ms in a
user-mode Linux guest, where starting a process is expensive.  The same
three netlink requests from threads that already live in the namespaces
take a few milliseconds anywhere.

Side effects: pyroute2 sockets on one thread per namespace.
"""

from __future__ import annotations

from pyroute2 import IPRoute

from l3roam.kernel.nsthread import NamespaceThread


class PortMover:
    def __init__(self) -> None:
        self._threads: dict[str, NamespaceThread] = {}
        self._ipr: dict[str, IPRoute] = {}

    def _in(self, netns: str) -> tuple[NamespaceThread, IPRoute]:
        if netns not in self._threads:
            t = NamespaceThread(netns, name=f"portmove-{netns}")
            self._threads[netns] = t
            self._ipr[netns] = t.run(IPRoute)
        return self._threads[netns], self._ipr[netns]

    def warm(self, netns: str) -> None:
        """Open the namespace's thread and socket now, not during the first move."""
        self._in(netns)

    def hand(self, port: str, src_netns: str, dst_netns: str, bridge: str | None, isolated: bool = True) -> None:
        """``ip -n src link set port netns dst``; then, with a bridge: master, isolated, up (in dst)."""
        t_src, ipr_src = self._in(src_netns)
        t_dst, ipr_dst = self._in(dst_netns)

        def away() -> None:
            (idx,) = ipr_src.link_lookup(ifname=port)
            ipr_src.link("set", index=idx, net_ns_fd=dst_netns)
        t_src.run(away)
        if bridge is None:
            return

        def join() -> None:
            (idx,) = ipr_dst.link_lookup(ifname=port)
            (br,) = ipr_dst.link_lookup(ifname=bridge)
            ipr_dst.link("set", index=idx, master=br)
            if isolated:
                ipr_dst.brport("set", index=idx, isolated=1)
            ipr_dst.link("set", index=idx, state="up")
        t_dst.run(join)

    def close(self) -> None:
        for netns, t in self._threads.items():
            try:
                t.run(self._ipr[netns].close)
            finally:
                t.stop()
        self._threads.clear()
        self._ipr.clear()
