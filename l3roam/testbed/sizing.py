"""What a testbed of a given size needs from this machine (pure: no I/O).

- **babel timers by size** (``babel.hello_interval`` / ``update_interval``
  omitted in the testbed file): every babeld sends a hello per interface per
  hello interval and a full dump of every route (3 per router: loopback,
  locator, SID) per update interval on every interface, so the periodic work
  of the whole mesh grows with links x routers.  Small meshes keep the fast
  0.25 s hello that roaming wants; large ones get slower timers so that the
  babelds do not saturate the machine (docs/testbed.md, "Whole community
  meshes", has the figures behind the thresholds).
- **the convergence timeout** (``converge_timeout`` omitted): grows with the
  size and with the timers.
- **the kernel's neighbour tables**: their limits
  (``net.ipv{4,6}.neigh.default.gc_thresh1/2/3``) are global, shared by every
  namespace, and default to 128/512/1024 entries.  Each end of a mesh link
  holds its neighbour's link-local address and the babel multicast group;
  past ``gc_thresh3`` the kernel logs ``neighbor table overflow!`` and drops
  packets (babeld: ``send: Invalid argument``), and babel never converges.
  ``neigh_thresholds`` says what to raise them to.
- **the router cap**: ``MAX_ROUTERS``, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Largest mesh the testbed builds.  Beyond it the IPv4 loopback plan would
#: still work, but the measured cost (docs/testbed.md) leaves no headroom on a
#: small machine; the figure behind it is in ``CAP_REASON``.
MAX_ROUTERS = 1000
CAP_REASON = ("a router is a namespace with its own babeld; each holds a route to every other router "
              "(3 routes per router), so kernel routes grow with the square of the size "
              "(3 million at 1000 routers) and babel's periodic dumps with routers x links; "
              "1000 is far beyond the measured 300-router whole-graph runs (docs/testbed.md)")

#: (largest router count, hello s, update s) for omitted timers, first match wins.
TIMER_STEPS: tuple[tuple[int, float, float], ...] = (
    (60, 0.25, 4.0),
    (150, 1.0, 8.0),
    (MAX_ROUTERS, 2.0, 16.0),
)

#: Neighbour-table entries per end of a mesh link (the neighbour's link-local
#: address, babel's multicast group ff02::1:6, and a spare for the
#: all-routers/all-nodes groups some traffic uses).
NEIGH_PER_LINK_END = 3
#: Per namespace (loopback, client radio, cell bridge entries).
NEIGH_PER_NAMESPACE = 4


def auto_timers(routers: int) -> tuple[float, float]:
    """(hello, update) interval in seconds for a mesh of ``routers`` routers."""
    for limit, hello, update in TIMER_STEPS:
        if routers <= limit:
            return hello, update
    return TIMER_STEPS[-1][1], TIMER_STEPS[-1][2]


def converge_timeout(routers: int, hello: float, update: float) -> float:
    """Seconds to wait for babel to converge: generous, so a timeout means a problem."""
    return max(20.0, 10 * hello + 2 * update + 0.15 * routers)


def neigh_entries(links: int, namespaces: int, clients: int = 0) -> int:
    """Neighbour-table entries a testbed needs at most (IPv6; IPv4 needs fewer)."""
    return 2 * links * NEIGH_PER_LINK_END + namespaces * NEIGH_PER_NAMESPACE + 2 * clients


#: Default socket receive buffer (``net.core.rmem_default``) per babel
#: neighbour of the busiest router, and the ceiling.  babeld keeps the
#: default buffer of its one UDP socket; a gateway with 245 neighbours gets
#: their dumps in bursts and, with the kernel's default of 208 KiB, dropped
#: 41,615 of 47,812 datagrams (``Udp6RcvbufErrors``) and never converged.
RCVBUF_PER_NEIGHBOUR = 64 * 1024
RCVBUF_MAX = 32 * 1024 * 1024


def host_sysctls(entries: int, max_degree: int) -> dict[str, int]:
    """Global (root-namespace) sysctls a testbed needs: full sysctl key -> at least this value.

    Neighbour tables: no forced GC below twice the need, no overflow below
    four times.  Receive buffers: room for a burst from every neighbour of
    the busiest router (only raised past the kernel default for hubs).
    """
    out = {}
    for fam in ("ipv4", "ipv6"):
        out[f"net.{fam}.neigh.default.gc_thresh1"] = max(128, entries)
        out[f"net.{fam}.neigh.default.gc_thresh2"] = max(512, 2 * entries)
        out[f"net.{fam}.neigh.default.gc_thresh3"] = max(1024, 4 * entries)
    out["net.core.rmem_default"] = min(RCVBUF_MAX, max(212992, max_degree * RCVBUF_PER_NEIGHBOUR))
    return out


def merge_limits(*limits: dict[str, int]) -> dict[str, int]:
    """The element-wise maximum: what every holder (and the saved original) needs at once."""
    out: dict[str, int] = {}
    for d in limits:
        for k, v in d.items():
            out[k] = max(out.get(k, 0), int(v))
    return out
