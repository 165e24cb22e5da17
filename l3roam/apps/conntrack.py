"""conntrack at the exits: which exit's NAT carries which of the client's flows (pure).

A snapshot is the text of ``conntrack -L`` in one exit's namespace (with
``nf_conntrack_acct`` on, so entries carry packet counters).  An entry's
first tuple is the original direction (the client's address and port), the
second the reply as the NAT rewrote it (the exit's uplink address and the
mapped port).  Between two snapshots, a flow *leaves by* the exit whose
entry's original-direction packet count grew; a flow that shows up at a
second exit got a new NAT mapping there, i.e. a new source address and port
as far as the server can tell.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    nat_src: str  # the address the server sees (reply destination)
    nat_port: int
    packets: int  # original direction (upstream)
    reply_packets: int

    @property
    def flow(self) -> tuple[str, str, int, str, int]:
        return (self.proto, self.src, self.sport, self.dst, self.dport)


def parse(text: str) -> list[Entry]:
    out = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] not in ("tcp", "udp"):
            continue
        orig: dict[str, str] = {}
        reply: dict[str, str] = {}
        for w in words[1:]:
            k, eq, v = w.partition("=")
            if not eq:
                continue
            target = orig if k not in orig else reply
            if k in target:
                continue
            target[k] = v
        try:
            out.append(Entry(words[0], orig["src"], int(orig["sport"]), orig["dst"], int(orig["dport"]),
                             reply["dst"], int(reply["dport"]), int(orig.get("packets", 0)),
                             int(reply.get("packets", 0))))
        except (KeyError, ValueError):
            continue
    return out


def exits_over_time(snapshots: list[tuple[float, str, str]], clients: set[str]) -> list[dict]:
    """Per snapshot round: which exit each of the clients' flows left by since the round before.

    ``snapshots``: (time, exit router, ``conntrack -L`` text), taken in rounds
    (every exit at about the same time).  Returns one dict per round: time,
    flows {flow key as text: exit or None}, and the flows that had entries at
    more than one exit so far (NAT state created anew).
    """
    rounds: dict[float, dict[str, list[Entry]]] = {}
    for t, exit_, text in snapshots:
        rounds.setdefault(round(t, 1), {})[exit_] = [e for e in parse(text) if e.src in clients]
    prev: dict[tuple, int] = {}
    seen_at: dict[tuple, set[str]] = {}
    out = []
    for t in sorted(rounds):
        carried: dict[str, str | None] = {}
        for exit_, entries in rounds[t].items():
            for e in entries:
                seen_at.setdefault(e.flow, set()).add(exit_)
                key = (exit_, *e.flow)
                grew = e.packets > prev.get(key, 0)
                prev[key] = e.packets
                name = f"{e.proto} {e.src}:{e.sport}->{e.dst}:{e.dport}"
                if grew:
                    carried[name] = exit_
                else:
                    carried.setdefault(name, None)
        out.append({"t": t, "flows": carried,
                    "renatted": sorted(f"{f[0]} {f[1]}:{f[2]}->{f[3]}:{f[4]}"
                                       for f, ex in seen_at.items() if len(ex) > 1)})
    return out
