"""The report from fixed results: per-scenario spread, verdicts, Markdown, and figures that parse."""

import json

import pytest

from l3roam.experiment.render import control_per_client, render_markdown, summarize_scenarios, verdicts


def roam(i, down, up, lost=2, alive=True):
    return {"roam": i, "src": "r1", "dst": "r3", "at": 100.0 + 4 * i, "move_ms": 30.0, "down_gap_ms": down,
            "down_lost": lost, "down_sent": 400, "down_dup": 0, "down_reord": 0, "up_gap_ms": up,
            "up_lost": lost, "up_sent": 400, "up_dup": 0, "up_reord": 1, "tcp_alive": alive,
            "addr_after": "10.99.0.2", "redhcp_ms": None}


def run(name, kind, gaps, handoff=None, hello=0.25, bps=700.0, alive=True, rep=1):
    return {"scenario": name, "kind": kind, "handoff": handoff, "hello": hello, "rep": rep, "seed": rep,
            "tcp": {"alive": alive, "longest_stall_ms": max(gaps)},
            "control": {"babel_bytes_per_s_per_link": bps, "babel_packets_per_s_per_link": 8.0,
                        "babeld_cpu_percent_per_router": 0.1, "agent_cpu_percent_per_ap": 0.2 if kind == "l3roam" else None},
            "tables": {"r1": 16, "r2": 15}, "roams": [roam(i + 1, g, g) for i, g in enumerate(gaps)], "dir": f"runs/{name}-{rep}"}


RUNS = [run("l3", "l3roam", [50, 50, 160], handoff=True), run("l3", "l3roam", [40, 60], handoff=True, rep=2),
        run("babel-1", "l3roam", [500, 700], handoff=False, hello=1.0, bps=300),
        run("l2", "l2", [30, 30, 40], hello=0.25, bps=650),
        {"scenario": "broken", "kind": "l2", "rep": 1, "error": "TimeoutError: x", "roams": []}]
COSTS = [{"clients": c, "roam_rate": 0.0, "babel_bytes_per_s_per_link": 660 + 11 * c,
          "babel_packets_per_s_per_link": 8.0, "table_max": 15 + c, "table_median": 15 + c,
          "babeld_cpu_percent_per_router": 0.1, "agent_cpu_percent_per_ap": 0.2, "babeld_rss_kib_max": 3000,
          "settle_s": 1.0} for c in (0, 10, 100, 1000)]
META = {"title": "t", "kernel": "6.1", "babeld": "1.13.1", "cores": 2, "batman_adv": False,
        "batman_adv_detail": "modprobe: not found", "skipped": ["batman: absent"],
        "topology": {"routers": 5, "links": 4, "aps": ["r1", "r3"], "hops": {"r1": 0, "r3": 2}, "server": "r2"}}


def test_rows_pool_repetitions_and_count_failures():
    rows = {r.name: r for r in summarize_scenarios(RUNS)}
    l3 = rows["l3"]
    assert (l3.runs, l3.roams, l3.down_gap.median, l3.down_gap.max) == (2, 5, 50, 160)
    assert l3.tcp_alive == 2 and l3.tcp_runs == 2 and l3.reordered == 5
    assert rows["broken"].failed == 1 and rows["broken"].roams == 0


def test_verdicts_compare_l3_with_handoff_to_l2():
    v = {m: (w, s) for m, w, s in verdicts(summarize_scenarios(RUNS), COSTS)}
    assert set(v) == {"handover gap", "loss", "TCP survival", "control traffic", "table size", "CPU"}
    assert v["handover gap"][0] == "worse" and "1.7× higher" in v["handover gap"][1]
    assert v["TCP survival"][0] == "same"
    assert "11.0 B/s per link" in v["control traffic"][1]
    assert control_per_client(COSTS) == pytest.approx(11.0)
    assert control_per_client(COSTS[:1]) is None


def test_markdown_has_every_section_and_figure():
    md = render_markdown(META, RUNS, COSTS, [{"case": "grid 5x5", "routers": 25, "links": 40, "ok": True,
                                               "build_s": 1, "converge_s": 3, "babeld_cpu_percent_total": 2,
                                               "babeld_rss_mib_total": 30, "memory_used_mib": 60, "table_max": 30},
                                              {"case": "ulm 217", "routers": 217, "links": 447, "ok": True,
                                               "babeld_cpu_percent_total": 181}],
                         {"cdf": "results/gap-cdf.png", "timeline": "results/timeline.png"})
    for heading in ("## Handover", "## Costs during the runs", "## Costs against clients and roam rate",
                    "## How large a mesh this machine carries", "## Verdict"):
        assert heading in md
    assert "![cdf](results/gap-cdf.png)" in md
    assert "| l3 | 50 / 140 (40–160)" in md
    assert "batman-adv: absent on this kernel" in md and "skipped: batman: absent" in md
    assert "Largest mesh carried comfortably: **25 routers**" in md
    assert "At the limit: 217 routers" in md and "| CPU saturated |" in md


def test_report_writes_pngs_that_parse(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    from l3roam.experiment.report import write_report

    for r in RUNS:
        if r.get("error"):
            continue
        d = tmp_path / r["dir"]
        d.mkdir(parents=True, exist_ok=True)
        t0 = int(100.0 * 1e9)
        for stem in ("down", "up"):
            sent = [[i, t0 + i * 10_000_000, 0] for i in range(2000)]
            got = [[i, s, s + 1_000_000] for i, s, _ in sent if i % 400 not in (1, 2, 3)]
            (d / f"{stem}-send.json").write_text(json.dumps({"sent": sent}))
            (d / f"{stem}-recv.json").write_text(json.dumps({"arrivals": got}))
    (tmp_path / "meta.json").write_text(json.dumps(META))
    (tmp_path / "runs.json").write_text(json.dumps(RUNS))
    (tmp_path / "costs.json").write_text(json.dumps(COSTS + [{**COSTS[-1], "roam_rate": 20.0}]))
    md = write_report(tmp_path)
    text = md.read_text()
    pngs = sorted((tmp_path / "figures").glob("*.png"))
    assert [p.name for p in pngs] == ["control-vs-clients.png", "gap-cdf.png", "table-vs-clients.png", "timeline.png"]
    for p in pngs:
        assert f"(figures/{p.name})" in text
        img = mpimg.imread(p)
        assert img.shape[0] > 100 and img.shape[1] > 100


def test_tcp_verdict_follows_the_survival_rate():
    broken = [run("l3", "l3roam", [50, 60], handoff=True, alive=False), run("l2", "l2", [30, 30])]
    v = {m: w for m, w, _ in verdicts(summarize_scenarios(broken), [])}
    assert v["TCP survival"] == "worse"


def test_equal_is_equal_within_tolerance():
    from l3roam.experiment.render import compare

    assert compare(0.18, 0.18, "cpu") == "same"
    assert compare(0.20, 0.18, "cpu") == "same"  # 0.02 % of a core: within the absolute tolerance
    assert compare(0.9, 0.18, "cpu") == "worse"
    assert compare(52.0, 48.0, "gap") == "same" and compare(150.0, 48.0, "gap") == "worse"
    assert compare(20.0, 10.0, "gap") == "worse"  # one probe more per roam is not "the same"
    assert compare(1.1, 0.1, "loss") == "worse" and compare(0.5, 0.2, "loss") == "same"
    assert compare(30.0, 150.0, "gap") == "better"
    runs = [run("l3", "l3roam", [50, 60], handoff=True), run("l2", "l2", [50, 60])]
    for r in runs:
        r["control"]["babeld_cpu_percent_per_router"] = 0.18
        r["control"]["agent_cpu_percent_per_ap"] = 0.03 if r["kind"] == "l3roam" else None
    v = {m: w for m, w, _ in verdicts(summarize_scenarios(runs), [])}
    assert v["CPU"] == "same" and v["handover gap"] == "same"


def test_placement_is_stated_per_scenario_and_for_the_mesh():
    runs = [run("on-ap", "l3roam", [50], handoff=True), run("gw", "l3roam", [150], handoff=True)]
    runs[0]["placement"] = {"server": "r6", "server_is_gateway": False, "server_is_ap": True,
                            "server_hops_to_aps": {"r6": 0, "r9": 3}}
    runs[1]["placement"] = {"server": "r5", "server_is_gateway": True, "server_is_ap": False,
                            "server_hops_to_aps": {"r6": 2, "r9": 2}}
    meta = dict(META, topology=dict(META["topology"], placement_text="server on r5 (a gateway; hops to the APs: "
                                                                     "r6 2, r9 2), lease master with it"))
    md = render_markdown(meta, runs, [], [], {})
    assert "Placement: server on r5 (a gateway" in md
    assert "| r6 (AP; 0/3 hops) |" in md and "| r5 (gateway; 2/2 hops) |" in md


def batman_run(name, gaps, client="talks", orig=1000, ctl=900.0):
    r = run(name, "batman", gaps, hello=None, bps=0.0)
    r.update({"client": client, "orig_interval": orig})
    r["control"].update({"control_bytes_per_s_per_link": ctl, "control_packets_per_s_per_link": 11.0,
                         "batman_ctl_bytes_per_s_per_link": ctl, "system_cpu_percent": 40.0})
    r["batman"] = {"module_version": "2022.3",
                   "tables": {"r1": {"originators": 4, "tt_local": 3, "tt_global": 12},
                              "r2": {"originators": 5, "tt_local": 2, "tt_global": 13}}}
    if client != "talks":
        r["tcp"] = None
        for x in r["roams"]:
            x["up_gap_ms"] = None
    return r


def test_batman_rows_verdict_and_behaviour_section():
    runs = RUNS + [batman_run("batman-adv", [120, 140, 900]), batman_run("batman-gluon", [300, 2000], orig=5000),
                   batman_run("batman-silent", [150, 3000], client="silent"),
                   run("l3-silent", "l3roam", [60, 70], handoff=True)]
    runs[-1]["client"] = "silent"
    bcosts = [{"design": "batman", "clients": c, "roam_rate": 0.0, "batman_ctl_bytes_per_s_per_link": 800.0,
               "batman_ctl_packets_per_s_per_link": 10.0, "table_max": 14 + c, "table_median": 14 + c,
               "system_cpu_percent": 20.0, "settle_s": 2.0} for c in (0, 100, 1000)]
    rows = {r.name: r for r in summarize_scenarios(runs)}
    b = rows["batman-adv"]
    assert b.table_max.median == 20  # TT local + global + originators of the fullest node (r2: 2 + 13 + 5)
    assert b.control_bps.median == 900.0 and b.system_cpu.median == 40.0 and b.orig_interval == 1000
    meta = {**META, "vm": "user-mode Linux 6.1 (test), 1 CPU", "host_kernel": "6.18", "batman_adv": True,
            "batman_adv_version": "2022.3", "handoff_encapsulation": "IPv4-in-IPv6 tunnels"}
    md = render_markdown(meta, runs, COSTS + bcosts, [], {})
    assert "**in a VM**, user-mode Linux 6.1 (test)" in md and "IPv4-in-IPv6 tunnels" in md
    assert "| batman-adv | batman-adv | – | OGM 1.00 | talks |" in md
    assert "| batman-gluon | batman-adv | – | OGM 5.00 |" in md
    assert "## The client after a move" in md and "| batman-adv (OGM 1.00 s) | silent | batman-silent |" in md
    assert "## batman-adv: costs against clients and roam rate" in md and "| 1000 | 0 | 800 |" in md
    verdict = md.split("## Verdict: L3 roaming (l3roam) against batman-adv")[1]
    for metric in ("handover gap", "loss", "TCP survival", "silent client", "control traffic",
                   "control per client", "table size", "CPU"):
        assert f"| {metric} |" in verdict, metric
    # l3 (median 50 ms) against batman-adv (median 140 ms): L3 better, and the mechanism is named
    gap_line = next(l for l in verdict.splitlines() if l.startswith("| handover gap |"))
    assert "| better |" in gap_line and "roaming advertisement" in gap_line and "OGM" in gap_line
    # the l3roam cost table keeps only l3roam's points
    assert "| 1000 | 0 | 11660 |" in md
