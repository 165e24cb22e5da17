"""Handover figures by hop distance, and the handover targets (pure: no I/O).

``by_distance`` groups the per-roam records of ``runs.json`` by testbed, hop
distance between the two APs of the move and scenario; ``targets`` checks
l3roam with hand-off under the carrier-kept roam model against the targets
of the handover work and against the L2 baseline of the same testbed at
every distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from l3roam.measure.stats import Summary, summarize

# the handover targets (docs/results-handover.md): l3roam with hand-off, carrier-kept
MEDIAN_MS = 20.0
P95_MS = 50.0
WORST_MS = 100.0
LOST_PER_ROAM = 2.0
STALL_MS = 200.0
L2_MARGIN_MS = 10.0


@dataclass(frozen=True)
class DistanceRow:
    testbed: str
    hops: int
    scenario: str
    kind: str
    handoff: bool | None
    model: str
    roams: int
    down_gap: Summary
    up_gap: Summary
    down_lost: Summary
    up_lost: Summary


def _ok_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if not r.get("error")]


def by_distance(runs: list[dict]) -> list[DistanceRow]:
    """One row per (testbed, hops, scenario), in the order scenarios first appear; hops ascending."""
    groups: dict[tuple[str, int, str], list[dict]] = {}
    info: dict[str, dict] = {}
    for run in _ok_runs(runs):
        info.setdefault(run["scenario"], run)
        for r in run.get("roams", []):
            if r.get("hops") is None:
                continue
            groups.setdefault((run.get("testbed", "-"), int(r["hops"]), run["scenario"]), []).append(r)
    order = list(dict.fromkeys(r["scenario"] for r in _ok_runs(runs)))
    testbeds = list(dict.fromkeys(r.get("testbed", "-") for r in _ok_runs(runs)))
    rows = []
    for key in sorted(groups, key=lambda k: (testbeds.index(k[0]), k[1], order.index(k[2]))):
        tb, hops, name = key
        rs, first = groups[key], info[name]

        def vals(field: str) -> list[float]:
            return [x[field] for x in rs if x.get(field) is not None]

        rows.append(DistanceRow(tb, hops, name, first["kind"], first.get("handoff"),
                                first.get("roam_model") or "carrier-lost", len(rs),
                                summarize(vals("down_gap_ms")), summarize(vals("up_gap_ms")),
                                summarize(vals("down_lost")), summarize(vals("up_lost"))))
    return rows


@dataclass(frozen=True)
class Target:
    scenario: str
    what: str
    want: str
    got: str
    met: bool | None  # None: no data


def _check(scenario: str, what: str, want: str, value: float, limit: float, digits: int = 0) -> Target:
    if math.isnan(value):
        return Target(scenario, what, want, "–", None)
    return Target(scenario, what, want, f"{value:.{digits}f}", value <= limit)


def targets(runs: list[dict]) -> list[Target]:
    """Every target, for each l3roam hand-off scenario with the carrier-kept model."""
    out: list[Target] = []
    ok = _ok_runs(runs)
    dist = by_distance(runs)
    names = list(dict.fromkeys(r["scenario"] for r in ok if r["kind"] == "l3roam" and r.get("handoff")
                               and r.get("roam_model") == "carrier-kept"))
    for name in names:
        rs = [r for r in ok if r["scenario"] == name]
        roams = [x for r in rs for x in r.get("roams", [])]
        gaps = summarize([x["down_gap_ms"] for x in roams if x.get("down_gap_ms") is not None])
        lost = [x.get("down_lost") or 0 for x in roams] + [x.get("up_lost") or 0 for x in roams if "up_lost" in x]
        out.append(_check(name, "median gap (down)", f"≤ {MEDIAN_MS:.0f} ms", gaps.median, MEDIAN_MS))
        out.append(_check(name, "p95 gap (down)", f"≤ {P95_MS:.0f} ms", gaps.p95, P95_MS))
        out.append(_check(name, "worst gap (down)", f"≤ {WORST_MS:.0f} ms", gaps.max, WORST_MS))
        per_dir = summarize([float(v) for v in lost])
        out.append(_check(name, "probes lost per roam and direction (mean)", f"≤ {LOST_PER_ROAM:.0f}",
                          per_dir.mean, LOST_PER_ROAM, 2))
        tcp = [r["tcp"] for r in rs if r.get("tcp")]
        alive = sum(1 for t in tcp if t.get("alive"))
        stall = max((t.get("longest_stall_ms") or 0 for t in tcp), default=math.nan)
        out.append(Target(name, "TCP alive", "every run", f"{alive}/{len(tcp)}", alive == len(tcp) if tcp else None))
        out.append(_check(name, "TCP longest stall", f"≤ {STALL_MS:.0f} ms", float(stall), STALL_MS))
        tb = rs[0].get("testbed", "-")
        for d in (d for d in dist if d.scenario == name):
            l2 = next((x for x in dist if x.testbed == tb and x.hops == d.hops and x.kind == "l2"
                       and x.model == d.model), None)
            if l2 is None:
                continue
            for label, a, b in (("median", d.down_gap.median, l2.down_gap.median),
                                ("p95", d.down_gap.p95, l2.down_gap.p95)):
                diff = a - b
                out.append(Target(name, f"{d.hops} hops: {label} gap minus L2's ({l2.scenario})",
                                  f"≤ {L2_MARGIN_MS:.0f} ms", f"{diff:+.0f} ({a:.0f} vs {b:.0f})",
                                  None if math.isnan(diff) else diff <= L2_MARGIN_MS))
    return out
