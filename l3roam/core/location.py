"""Which node serves a client now, with a move sequence number (pure).

The rule is EVPN MAC mobility's (RFC 7432 §15): every move raises the
sequence number and the highest number wins.  A node claims a client with the
number it last knew for that MAC plus one, or with 0 when it knows none, in
which case the master numbers the move itself (it sees claims one at a time).
A claim whose number is not above the current one, from another node, is a
late or stale claim and is refused; the refusal carries the current location.
A claim from the node that already serves the client is an idempotent refresh.

One exception saves a roam a round trip: when the serving node has reported
that the station left it (``departed_seq`` is the current number), a claim
from another node with an older number is accepted as the next move.  A node
that claims a MAC it last saw several moves ago carries an old number, and
while the serving node still has the station that is a claim to refuse; once
that node has lost the station, whoever claims it next has it.  A claim
delayed so long that the station has since moved on again is undone by the
next claim of the node that has it (that node claims again on a refusal).
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
                 now: float, departed_seq: int | None = None) -> ClaimAccepted | ClaimRefused:
    """``departed_seq``: the move number at which the current node reported the station gone."""
    if current is None:
        return ClaimAccepted(Location(mac, node, max(seq, 1), now), None)
    if current.node == node:
        if seq > current.seq:
            return ClaimAccepted(Location(mac, node, seq, current.since), None)
        return ClaimAccepted(current, None)
    if seq == 0 or departed_seq == current.seq:
        return ClaimAccepted(Location(mac, node, current.seq + 1, now), current)
    if seq > current.seq:
        return ClaimAccepted(Location(mac, node, seq, now), current)
    return ClaimRefused("stale_sequence", current)
