"""Roaming schedules as pure data: which client moves to which AP, when.

``every``: cycle through the access points in their listed order;
``random``: a random walk (each move to a different AP, uniformly, from
``seed``); ``path``: the given list of APs in order (then stop).  Times are
offsets in seconds from the start of the run, ``interval`` apart, the first
move one interval after the start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Move:
    at: float  # seconds after the schedule starts
    client: str
    src: str
    dst: str


def plan_moves(kind: str, client: str, aps: tuple[str, ...] | list[str], start_ap: str,
               count: int, interval: float, path: tuple[str, ...] | list[str] = (),
               seed: int = 1) -> list[Move]:
    """The moves of one client; raise ValueError on an impossible schedule."""
    if len(aps) < 2:
        raise ValueError("roaming needs at least two access points")
    if start_ap not in aps:
        raise ValueError(f"{start_ap} is not an access point")
    if interval <= 0:
        raise ValueError("interval must be positive")
    targets: list[str] = []
    if kind == "every":
        i = list(aps).index(start_ap)
        for _ in range(count):
            i = (i + 1) % len(aps)
            targets.append(aps[i])
    elif kind == "random":
        rng = random.Random(seed)
        here = start_ap
        for _ in range(count):
            here = rng.choice([a for a in aps if a != here])
            targets.append(here)
    elif kind == "path":
        here = start_ap
        for ap in path:
            if ap not in aps:
                raise ValueError(f"{ap} in the path is not an access point")
            if ap != here:  # a "move" to the same AP is no move
                targets.append(ap)
                here = ap
    else:
        raise ValueError(f"unknown schedule {kind!r} (every, random, path)")
    moves, here = [], start_ap
    for n, dst in enumerate(targets, start=1):
        moves.append(Move(at=n * interval, client=client, src=here, dst=dst))
        here = dst
    return moves


def shift_phases(moves: list[Move], spacing: float, seed: int) -> list[Move]:
    """Each move later by a seeded random fraction of ``spacing`` (a probe interval), in order."""
    rng = random.Random(seed)
    return [replace(m, at=m.at + rng.uniform(0.0, spacing)) for m in moves]
