"""Handover figures by hop distance and the handover targets (pure)."""

from l3roam.experiment.distance import by_distance, targets
from l3roam.experiment.render import render_markdown


def run(name, kind, gaps_by_hops, model="carrier-kept", testbed="line5", lost=0, stall=30.0, alive=True):
    roams = [{"roam": i, "src": "r1", "dst": "r3", "hops": h, "down_gap_ms": g, "up_gap_ms": g, "down_lost": lost,
              "up_lost": lost, "move_ms": 2.0}
             for i, (h, g) in enumerate(((h, g) for h, gs in gaps_by_hops.items() for g in gs), start=1)]
    return {"scenario": name, "kind": kind, "handoff": True if kind == "l3roam" else None, "roam_model": model,
            "testbed": testbed, "roams": roams, "tcp": {"alive": alive, "longest_stall_ms": stall}}


RUNS = [run("l3", "l3roam", {2: [10, 12, 14], 4: [30, 40, 60]}),
        run("l2", "l2", {2: [10, 10, 10], 4: [10, 12, 14]}),
        run("l3-lost", "l3roam", {2: [100]}, model="carrier-lost")]


def test_rows_per_testbed_distance_and_scenario_in_order():
    rows = by_distance(RUNS)
    assert [(r.hops, r.scenario) for r in rows] == [(2, "l3"), (2, "l2"), (2, "l3-lost"), (4, "l3"), (4, "l2")]
    assert rows[0].down_gap.median == 12 and rows[3].down_gap.max == 60 and rows[0].roams == 3


def test_targets_judge_only_carrier_kept_handoff_and_compare_with_l2_at_each_distance():
    t = {(x.scenario, x.what): x for x in targets(RUNS)}
    assert {s for s, _ in t} == {"l3"}
    assert t[("l3", "median gap (down)")].met is False  # 22 > 20
    assert t[("l3", "worst gap (down)")].met is True
    assert t[("l3", "TCP alive")].met is True
    assert t[("l3", "2 hops: median gap minus L2's (l2)")].met is True  # +2
    four = t[("l3", "4 hops: median gap minus L2's (l2)")]
    assert four.met is False and four.got.startswith("+28")
    bad = targets([run("x", "l3roam", {2: [5]}, alive=False, stall=900, lost=3)])
    assert [x.met for x in bad if x.what.startswith(("TCP", "probes"))] == [False, False, False]


def test_the_report_has_the_distance_table_and_the_targets():
    md = render_markdown({}, RUNS, [], [], {"cdf_hops": "f/cdf.png"})
    assert "## By hop distance" in md and "## Handover targets" in md
    assert "| line5 | 4 | l3 | carrier-kept | 3 |" in md
    assert "![cdf by hop distance](f/cdf.png)" in md
