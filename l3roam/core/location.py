"""Which node serves a client now, with a move sequence number (pure).

The rule is EVPN MAC mobility's (RFC 7432 §15): every move raises the
sequence number and the highest number wins.  A node claims a client with the
number it last knew for that MAC plus one, or with 0 when it knows none, in
which case the master numbers the move itself (it sees claims one at a time).
A claim whose number is not above the current one, from another node, is a
late or stale claim and is refused; the refusal carries the current location.
A claim from the node that already serves the client is an idempotent refresh.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    mac: str
    node: str
    seq: int
    since: float


@dataclass(frozen=True)
class ClaimAccepted:
    location: Location
    previous: Location | None  # set when the client moved away from another node

    @property
    def moved(self) -> bool:
        return self.previous is not None and self.previous.node != self.location.node


@dataclass(frozen=True)
class ClaimRefused:
    reason: str  # "stale_sequence"
    current: Location


def decide_claim(current: Location | None, mac: str, node: str, seq: int,
                 now: float) -> ClaimAccepted | ClaimRefused:
    if current is None:
        return ClaimAccepted(Location(mac, node, max(seq, 1), now), None)
    if current.node == node:
        if seq > current.seq:
            return ClaimAccepted(Location(mac, node, seq, current.since), None)
        return ClaimAccepted(current, None)
    if seq == 0:
        return ClaimAccepted(Location(mac, node, current.seq + 1, now), current)
    if seq > current.seq:
        return ClaimAccepted(Location(mac, node, seq, now), current)
    return ClaimRefused("stale_sequence", current)
