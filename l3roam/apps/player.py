"""The HLS player's buffer model (pure: completion times in, stalls out).

A player downloads segments in order; each adds ``seg_s`` seconds of media
to its buffer when its download completes.  Playback starts once
``start_segments`` are buffered and consumes media in real time; when the
playhead reaches the end of the buffer the player *stalls* (a rebuffer
event) until ``resume_segments`` segments are buffered again.  Nothing is
skipped (a VOD player, or a live player that falls further behind the edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Playback:
    started_at: float | None = None  # time playback began (startup delay = started_at - request start)
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each rebuffer
    played_s: float = 0.0  # media seconds played by the end
    buffered_s: float = 0.0  # media seconds downloaded by the end
    stalled_at_end: bool = False

    @property
    def stall_s(self) -> float:
        return sum(b - a for a, b in self.stalls)

    def buffer_ahead(self) -> float:
        return self.buffered_s - self.played_s


def playback(seg_done: list[float], seg_s: float, t_end: float, start_segments: int = 1,
             resume_segments: int = 1) -> Playback:
    """Replay the buffer from the segments' completion times (in order) up to ``t_end``."""
    pb = Playback()
    now: float | None = None  # last time the playhead was updated (None: not started)
    stalled_since: float | None = None
    for i, done in enumerate([*seg_done, math.inf]):
        horizon = min(done, t_end)
        if now is not None and stalled_since is None and horizon > now:
            ahead = pb.buffered_s - pb.played_s
            if horizon - now > ahead:  # the buffer runs dry before the next segment
                stalled_since = now + ahead
                pb.played_s = pb.buffered_s
                now = stalled_since
            else:
                pb.played_s += horizon - now
                now = horizon
        if done > t_end:
            break
        pb.buffered_s += seg_s
        if pb.started_at is None:
            if i + 1 >= start_segments:
                pb.started_at = now = done
        elif stalled_since is not None and pb.buffered_s - pb.played_s >= resume_segments * seg_s - 1e-9:
            pb.stalls.append((stalled_since, done))
            stalled_since, now = None, done
    if stalled_since is not None:
        pb.stalls.append((stalled_since, t_end))
        pb.stalled_at_end = True
    return pb
