"""A MOS estimate for a call from ITU-T G.107's E-model, simplified (pure).

Simplifications, all standard in network planning (G.107's default values
for everything this testbed does not have):

- R = 93.2 - Id - Ie,eff: the default R0 - Is = 93.2 (no noise, no
  sidetone or loudness impairments) and advantage factor A = 0;
- delay impairment Id from the one-way mouth-to-ear delay d alone (no echo
  path: talker echo assumed cancelled), the usual piecewise-linear fit
  Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3), d in ms;
- equipment impairment for G.711 with packet-loss concealment: Ie = 0,
  Bpl = 25.1 (G.113 Appendix I), random loss (BurstR = 1):
  Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl);
- Ppl counts packets lost *and* packets later than the de-jitter buffer;
  d = measured mean one-way network delay + the buffer depth + 20 ms of
  packetization;
- R -> MOS with G.107 Annex B's conversion.
"""

from __future__ import annotations

IE_G711 = 0.0
BPL_G711_PLC = 25.1
PACKETIZATION_MS = 20.0


def r_factor(one_way_ms: float, loss_pct: float, ie: float = IE_G711, bpl: float = BPL_G711_PLC) -> float:
    d = max(0.0, one_way_ms)
    idd = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = max(0.0, loss_pct)
    ie_eff = ie + (95 - ie) * ppl / (ppl + bpl)
    return 93.2 - idd - ie_eff


def mos(r: float) -> float:
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def call_mos(network_delay_ms: float, effective_loss_pct: float, jitter_buffer_ms: float) -> float:
    """MOS of one direction: measured delay and effective loss (lost + late packets)."""
    return round(mos(r_factor(network_delay_ms + jitter_buffer_ms + PACKETIZATION_MS, effective_loss_pct)), 2)
