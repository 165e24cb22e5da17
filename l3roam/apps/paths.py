"""Which routers each packet of the call's RTP went through, per direction (pure).

Every router captures the RTP port (and SRv6-encapsulated packets, decoded
to the IPv4 packet inside) on all its interfaces, with nanosecond
timestamps.  A packet's *path* is the sequence of routers it *arrived* at,
in capture-time order, repeats of the same router in a row collapsed (a
packet arriving on a station port is seen again on the cell bridge).  Only
arrivals count: a packet leaving one router and arriving at the next carry
the same microsecond.  During l3roam's hand-off a downstream packet goes exit ->
old AP -> (SRv6) -> new AP, so the same router can appear twice in a path.

Upstream packet n and its echo (downstream packet n) are sent about a
millisecond apart, so they pair up: the paths are *symmetric* when the
downstream path is the upstream path reversed.  Per roam: how long after the
move asymmetric pairs were still seen, which paths each direction took, and
the exit the upstream packets left by.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from l3roam.apps import pcap
from l3roam.apps.rtp import rtp_seq


def packet_paths(captures: dict[str, list[pcap.Packet]], keep) -> dict[int, tuple[float, tuple[str, ...]]]:
    """RTP sequence number -> (first capture time, path) for the packets ``keep`` accepts.

    Sequence numbers are taken as they are (a call here is far shorter than a
    16-bit wrap at 50 packets/s: 21 minutes).
    """
    seen: dict[int, list[tuple[float, str]]] = {}
    for router, packets in captures.items():
        for p in packets:
            if p.outgoing or not keep(p):  # arrivals only: a router's own send time can tie the next hop's
                continue
            seq = rtp_seq(p.payload)
            if seq is not None:
                seen.setdefault(seq, []).append((p.ts, router))
    out = {}
    for seq, obs in seen.items():
        obs.sort()
        path: list[str] = []
        for _, r in obs:
            if not path or path[-1] != r:
                path.append(r)
        out[seq] = (obs[0][0], tuple(path))
    return out


@dataclass(frozen=True)
class RoamPaths:
    at: float
    up: dict[str, int]  # path text -> packets, in [at, next roam)
    down: dict[str, int]
    asymmetric: int  # pairs whose paths were not mirror images
    asymmetric_for_ms: float  # from the move to the last asymmetric pair (0: none)
    via_srv6: int  # downstream packets that went through an SRv6 encapsulation
    exits: dict[str, int]  # exit -> upstream packets that reached the internet through it
    exit_changed: bool


def _txt(path: tuple[str, ...]) -> str:
    return ">".join(path)


def per_roam(up: dict[int, tuple[float, tuple[str, ...]]], down: dict[int, tuple[float, tuple[str, ...]]],
             srv6_seqs: set[int], exit_of: dict[int, str], roams: list[float], end: float) -> list[RoamPaths]:
    """Per roam window [move, next move or ``end``): paths, asymmetry, exits (``exit_of``: seq -> exit)."""
    out = []
    bounds = list(roams) + [end]
    prev_exit: str | None = None
    if roams:
        before = Counter(exit_of[s] for s, (t, _) in up.items() if t < roams[0] and s in exit_of)
        prev_exit = before.most_common(1)[0][0] if before else None
    for i, at in enumerate(roams):
        hi = bounds[i + 1]
        ups = {s: v for s, v in up.items() if at <= v[0] < hi}
        downs = {s: v for s, v in down.items() if at <= v[0] < hi}
        asym = [s for s in ups if s in downs and downs[s][1] != tuple(reversed(ups[s][1]))]
        last = max((max(ups[s][0], downs[s][0]) for s in asym), default=None)
        exits = Counter(exit_of[s] for s in ups if s in exit_of)
        main = exits.most_common(1)[0][0] if exits else None
        out.append(RoamPaths(
            at=at, up=dict(Counter(_txt(p) for _, p in ups.values())),
            down=dict(Counter(_txt(p) for _, p in downs.values())), asymmetric=len(asym),
            asymmetric_for_ms=round((last - at) * 1000, 1) if last is not None else 0.0,
            via_srv6=sum(1 for s in downs if s in srv6_seqs), exits=dict(exits),
            exit_changed=prev_exit is not None and main is not None and main != prev_exit))
        if main is not None:
            prev_exit = main
    return out
