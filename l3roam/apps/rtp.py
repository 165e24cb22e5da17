"""RTP: the stream sipp plays, and what arrived of it (pure: no I/O).

The caller plays a generated G.711 A-law stream (payload type 8, 160-byte
payloads, 50 packets/s: 20 ms packetization) from a pcap file; the callee
echoes every packet back to where it came from (sipp ``-rtp_echo``), so the
downstream stream carries the same sequence numbers.  Both ends capture: the
caller's capture gives send times upstream and arrival times downstream, the
callee's the reverse.  Per direction: packets lost, packets later than the
de-jitter buffer allows, the longest gap between arrivals, the RFC 3550
interarrival jitter, and the one-way delay (both captures share the machine's
clock).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from l3roam.apps import pcap

RTP_PT_PCMA = 8
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
SSRC = 0x4C335250


def stream_pcap(duration_s: float, rate: float = 50.0, payload_bytes: int = 160,
                src: str = "192.0.2.100", dst: str = "192.0.2.200", port: int = 6000) -> bytes:
    """A pcap of ``duration_s`` seconds of RTP (PCMA) at ``rate`` packets/s, for sipp's play_pcap_audio."""
    n = int(duration_s * rate)
    frames = []
    body = bytes([0xD5]) * payload_bytes  # A-law silence
    for seq in range(n):
        hdr = struct.pack("!BBHII", 0x80, RTP_PT_PCMA | (0x80 if seq == 0 else 0), seq & 0xFFFF,
                          (seq * SAMPLES_PER_PACKET) & 0xFFFFFFFF, SSRC)
        frames.append((1_000_000_000 + seq / rate, pcap.udp_frame(src, dst, port, port, hdr + body)))
    return pcap.write(frames)


def rtp_seq(payload: bytes) -> int | None:
    """The sequence number of an RTP packet, or None if ``payload`` is not RTP version 2."""
    if len(payload) < 12 or payload[0] >> 6 != 2:
        return None
    return struct.unpack_from("!H", payload, 2)[0]


def unwrap(seqs: list[int]) -> list[int]:
    """16-bit sequence numbers in arrival order made monotonic across wraps."""
    out, base, last = [], 0, None
    for s in seqs:
        if last is not None and s < last and last - s > 0x8000:
            base += 0x10000
        elif last is not None and s > last and s - last > 0x8000:
            base -= 0x10000
        out.append(s + base)
        last = s
    return out


@dataclass(frozen=True)
class RoamLoss:
    at: float
    lost: int
    gap_ms: float


@dataclass
class DirectionStats:
    sent: int
    received: int
    lost: int
    late: int  # arrived, but after the de-jitter buffer's deadline
    longest_gap_ms: float
    gap_at: float | None  # send time of the last packet before the longest gap
    jitter_ms: float  # RFC 3550 interarrival jitter, mean over the stream
    delay_ms: float  # mean one-way delay of the packets that arrived
    per_roam: list[RoamLoss] = field(default_factory=list)

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost / self.sent if self.sent else math.nan

    @property
    def effective_loss_pct(self) -> float:
        return 100.0 * (self.lost + self.late) / self.sent if self.sent else math.nan


def nominal(captured: dict[int, float], packets: int, rate: float) -> dict[int, float]:
    """The stream's schedule: packet s of ``packets`` played at ``rate`` is due at t0 + s / rate, t0 the
    earliest capture consistent with it.  Packets the caller's stack held back (waiting for ARP) or
    never sent (from an address it no longer had) count from when the application sent them."""
    if not captured:
        return {}
    t0 = min(t - s / rate for s, t in captured.items())
    return {s: t0 + s / rate for s in range(max(packets, max(captured) + 1))}


def direction(sent: dict[int, float], arrived: dict[int, float], roams: list[float],
              jitter_buffer_ms: float = 60.0, window_s: float = 3.0,
              span: tuple[float, float] | None = None) -> DirectionStats:
    """Figures of one direction from send and arrival times keyed by (unwrapped) sequence number.

    ``sent`` holds every packet that left the sender; an arrival of a sequence
    number never seen sent is ignored.  A packet is *late* when its one-way
    delay exceeds the smallest delay of the stream by more than
    ``jitter_buffer_ms`` (a fixed de-jitter buffer of that depth).  The
    longest gap is taken over ``span`` (default: first to last send time), so
    a stream that stops for good shows a gap to the end of the call.  Per roam
    at time T: packets sent in [T, T + ``window_s``) that never arrived, and
    the longest gap between arrivals in that window.
    """
    got = {s: t for s, t in arrived.items() if s in sent}
    delays = [got[s] - sent[s] for s in got]
    base = min(delays) if delays else 0.0
    late = sum(1 for d in delays if d - base > jitter_buffer_ms / 1000)
    # jitter in send order (RFC 3550 A.8 with times in seconds)
    j, js, prev = 0.0, [], None
    for s in sorted(got):
        if prev is not None:
            d = (got[s] - got[prev]) - (sent[s] - sent[prev])
            j += (abs(d) - j) / 16
            js.append(j)
        prev = s
    times = sorted(got.values())
    first, last = (min(sent.values()), max(sent.values())) if sent else (0.0, 0.0)
    if span is not None:
        first, last = span
    edges = [first] + times + [last] if times else [first, last]
    gap, gap_at = 0.0, None
    for a, b in zip(edges, edges[1:]):
        if b - a > gap:
            gap, gap_at = b - a, a
    per_roam = []
    for at in roams:
        win = [s for s, t in sent.items() if at <= t < at + window_s]
        lost = sum(1 for s in win if s not in got)
        arr = sorted(t for t in got.values() if at <= t < at + window_s)
        pts = [at] + arr + [min(at + window_s, last)]
        g = max((b - a for a, b in zip(pts, pts[1:])), default=0.0)
        per_roam.append(RoamLoss(at, lost, round(g * 1000, 1)))
    return DirectionStats(
        sent=len(sent), received=len(got), lost=len(sent) - len(got), late=late,
        longest_gap_ms=round(gap * 1000, 1), gap_at=gap_at,
        jitter_ms=round(1000 * sum(js) / len(js), 2) if js else 0.0,
        delay_ms=round(1000 * sum(delays) / len(delays), 2) if delays else math.nan, per_roam=per_roam)


def times_by_seq(packets: list[pcap.Packet], keep) -> dict[int, float]:
    """First capture time per (unwrapped) RTP sequence number of the packets ``keep`` accepts."""
    chosen = [(p.ts, rtp_seq(p.payload)) for p in sorted(packets, key=lambda p: p.ts) if keep(p)]
    chosen = [(t, s) for t, s in chosen if s is not None]
    seqs = unwrap([s for _, s in chosen])
    out: dict[int, float] = {}
    for (t, _), s in zip(chosen, seqs):
        out.setdefault(s, t)
    return out
