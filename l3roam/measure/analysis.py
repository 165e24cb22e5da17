"""Per-roam figures from a prober's records (pure: no I/O).

Input: what the sender sent (sequence number -> send time), what the receiver
got (sequence number, receive time; a sequence number may arrive twice), and
the roam times.  All times in seconds on one clock (the probes and the
testbed use the wall clock of one machine).

Each roam owns a window of time: from the midpoint to the previous roam (or
the first send) to the midpoint to the next roam (or the last send).  Per
window:

- ``gap_ms``: the longest interval without arrivals that overlaps the
  window: the outage a user would notice.  With nothing lost it equals the
  probe interval (10 ms at 100 packets/s);
- ``lost``: packets sent in the window that never arrived;
- ``duplicates``: extra copies of packets sent in the window;
- ``reordered``: arrivals of packets sent in the window with a lower
  sequence number than one that arrived before them.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    seq: int
    received: float


@dataclass(frozen=True)
class RoamStats:
    index: int
    at: float
    window: tuple[float, float]
    sent: int
    lost: int
    duplicates: int
    reordered: int
    gap_ms: float
    gap_start: float | None  # receive time of the last packet before the longest gap


def windows(roams: list[float], start: float, end: float) -> list[tuple[float, float]]:
    out = []
    for i, t in enumerate(roams):
        lo = start if i == 0 else (roams[i - 1] + t) / 2
        hi = end if i == len(roams) - 1 else (t + roams[i + 1]) / 2
        out.append((lo, hi))
    return out


def longest_gap(times: list[float], lo: float, hi: float) -> tuple[float, float | None]:
    """Longest interval between consecutive ``times`` (sorted) that overlaps [lo, hi].

    Before the first and after the last arrival, ``lo`` and ``hi`` bound the
    interval: traffic that never resumes counts until the window ends.
    """
    i = max(bisect.bisect_right(times, lo) - 1, 0)
    j = bisect.bisect_left(times, hi)
    points = times[i:j + 1]
    if not points or points[0] > lo:
        points = [lo] + points
    if points[-1] < hi:
        points = points + [hi]
    best, at = 0.0, None
    for a, b in zip(points, points[1:]):
        if b - a > best and b > lo and a < hi:
            best, at = b - a, a
    return best, at


def analyse(sent: dict[int, float], arrivals: list[Arrival], roams: list[float]) -> list[RoamStats]:
    """Figures per roam (roams sorted by time); empty when nothing was sent."""
    if not sent or not roams:
        return []
    roams = sorted(roams)
    start, end = min(sent.values()), max(sent.values())
    end = max(end, max((a.received for a in arrivals), default=end))
    times = sorted(a.received for a in arrivals)
    copies = Counter(a.seq for a in arrivals)
    reordered_seqs: Counter[int] = Counter()
    highest = -1
    for a in sorted(arrivals, key=lambda a: a.received):
        if a.seq < highest:
            reordered_seqs[a.seq] += 1
        highest = max(highest, a.seq)
    out = []
    for idx, (t, (lo, hi)) in enumerate(zip(roams, windows(roams, start, end))):
        last = idx == len(roams) - 1  # only the last window is closed at its end
        mine = [s for s, ts in sent.items() if lo <= ts < hi or (last and lo <= ts == hi)]
        gap, gap_at = longest_gap(times, lo, hi)
        out.append(RoamStats(
            index=idx + 1, at=t, window=(lo, hi), sent=len(mine),
            lost=sum(1 for s in mine if copies[s] == 0),
            duplicates=sum(max(0, copies[s] - 1) for s in mine),
            reordered=sum(reordered_seqs[s] for s in mine),
            gap_ms=round(gap * 1000, 1), gap_start=gap_at))
    return out


def loss_runs(sent: dict[int, float], arrivals: list[Arrival], roam: float,
              window: tuple[float, float]) -> list[tuple[float, int]]:
    """Runs of consecutive lost packets sent in ``window``: (start ms after ``roam``, count).

    Shows *when* a roam lost its packets: at the move itself (detection,
    claim, redirect) or later (a routing change such as the old AP's
    withdrawal).
    """
    got = {a.seq for a in arrivals}
    lo, hi = window
    lost = sorted(s for s, t in sent.items() if lo <= t < hi and s not in got)
    runs: list[tuple[float, int]] = []
    prev = None
    for s in lost:
        if prev is not None and s == prev + 1:
            start, n = runs[-1]
            runs[-1] = (start, n + 1)
        else:
            runs.append((round((sent[s] - roam) * 1000, 1), 1))
        prev = s
    return runs


def from_probe_files(send_data: dict, recv_data: dict) -> tuple[dict[int, float], list[Arrival]]:
    """Convert the probes' JSON (nanoseconds) to ``analyse``'s input (seconds).

    Packets the sender failed to send (an errno recorded) count as sent: the
    user's traffic was lost either way.
    """
    sent = {int(seq): ns / 1e9 for seq, ns, _err in send_data["sent"]}
    arrivals = [Arrival(int(seq), rx / 1e9) for seq, _tx, rx in recv_data["arrivals"]]
    return sent, arrivals


def tcp_alive_at(tcp: dict | None, roam_at: float) -> bool | None:
    """Was the TCP stream alive through the roam at ``roam_at`` (s)?  None without a TCP probe.

    Alive at the end: yes.  Broken: the roams before the failure (or before
    the start of the longest stall, which never ended) kept it.
    """
    if tcp is None:
        return None
    if tcp.get("alive"):
        return True
    broke = tcp.get("failed_at_ns") or tcp.get("stall_at_ns")
    if broke is None:
        return False
    return broke / 1e9 > roam_at
