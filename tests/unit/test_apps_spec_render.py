"""The apps: section of an experiment file, a missing tool, and the application report (pure)."""

import pytest

from l3roam.apps import tools
from l3roam.config import load_text
from l3roam.errors import ConfigError, ExternalToolError
from l3roam.experiment.apps_render import compare_l3_l2, render_apps, verdict_cell
from l3roam.experiment.spec import ExperimentSpec

BASE = "testbed: x.yaml\nscenarios: [{name: a, kind: l3roam}, {name: b, kind: l2}]\n"


def test_the_shipped_files_load_and_bad_apps_sections_name_every_key():
    spec = load_text(ExperimentSpec, BASE + "apps: {paces: [{name: walk, interval: 12, count: 4}, "
                                             "{name: still, count: 0, scenarios: [a]}]}\n")
    assert spec.apps.paces[1].scenarios == ("a",) and spec.apps.probes == ("hls", "rtmp", "sip", "download")
    with pytest.raises(ConfigError) as e:
        load_text(ExperimentSpec, BASE + "apps: {probes: [hls, quic], download_rate: fast, "
                                         "paces: [{name: w, interval: 0.2}, {name: s, count: 0, scenarios: [zz]}]}\n")
    msg = str(e.value)
    for key in ("apps.probes[1]", "apps.download_rate", "apps.paces[0].interval", "apps.paces[1].scenarios[0]"):
        assert key in msg, msg


def test_a_missing_tool_names_its_debian_package(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda prog, path=None: None if prog == "sipp" else f"/bin/{prog}")
    with pytest.raises(ExternalToolError) as e:
        tools.require("curl", "sipp")
    assert "sipp" in str(e.value) and "sip-tester" in str(e.value)
    monkeypatch.setattr(tools, "RTMP_MODULE_DIRS", ())
    with pytest.raises(ExternalToolError) as e:
        tools.require("ngx_rtmp_module")
    assert "libnginx-mod-rtmp" in str(e.value)


def _run(scen, kind, pace, rep, handoff=None, hls_stall=0.0, sip_gap=50.0, bye=True, roams=2):
    apps = {
        "hls": {"ran": True, "rebuffers": 1 if hls_stall else 0, "stall_s": hls_stall, "failed": 0,
                "verdict": "degraded" if hls_stall else "works"},
        "rtmp": {"down": {"ran": True, "survived": True, "longest_stall_s": 0.2, "dropped": 0},
                 "up": {"ran": True, "survived": True, "longest_stall_s": 0.3, "dropped": 0}, "verdict": "works"},
        "sip": {"ran": True, "clean_bye": bye, "mos": 4.3, "longest_gap_ms": sip_gap,
                "up": {"loss_pct": 0.1, "per_roam": [{"lost": 1, "gap_ms": 40}] * roams},
                "down": {"loss_pct": 0.2, "per_roam": [{"lost": 2, "gap_ms": sip_gap}] * roams},
                "verdict": "works" if bye else "breaks"},
        "download": {"ran": True, "complete": True, "mbit_s": 9.0, "longest_stall_s": 0.2, "retransmissions": 3,
                     "verdict": "works"},
    }
    return {"scenario": scen, "kind": kind, "handoff": handoff, "pace": pace, "rep": rep, "roams": [{}] * roams,
            "apps": apps, "load": [1, 1, 1, 1, 1, 1]}


def test_report_shows_the_worst_verdict_with_its_count_and_compares_l3_with_l2():
    runs = [_run("l3roam", "l3roam", "fast", 1, True, sip_gap=300), _run("l3roam", "l3roam", "fast", 2, True, bye=False),
            _run("l2", "l2", "fast", 1, sip_gap=100), _run("l2", "l2", "fast", 2, sip_gap=100),
            {"scenario": "l2", "kind": "l2", "pace": "walk", "rep": 1, "error": "boom", "roams": []}]
    assert verdict_cell(runs[:2], "sip") == "**breaks** (1/2)"
    assert verdict_cell(runs[2:4], "sip") == "**works**"
    rows = compare_l3_l2(runs)
    sip = next(r for r in rows if r[1] == "SIP call")
    assert sip[3] == "175" and sip[4] == "100" and sip[5] == "1.8×"
    md = render_apps({"title": "t", "topology": {"aps": ["r1", "r3"]}}, runs, {"sip": "figures/apps-sip.png"})
    assert "| l3roam@fast |" in md and "| l2@walk |" in md and "(1 runs failed)" in md
    assert "![sip](figures/apps-sip.png)" in md and "## l3roam (hand-off) against the L2 baseline" in md


def test_with_two_exits_the_report_lists_the_exit_per_roam_and_the_flows_natted_anew():
    run = _run("l3roam", "l3roam", "walk", 1, True)
    run["exits"] = ["r2", "r4"]
    run["roams"] = [{"src": "r1", "dst": "r3"}, {"src": "r3", "dst": "r5"}]
    run["apps"]["paths"] = {"per_roam": [{"exits": {"r2": 140, "r4": 8}, "exit_changed": False,
                                          "asymmetric_for_ms": 0, "via_srv6": 0},
                                         {"exits": {"r4": 150}, "exit_changed": True,
                                          "asymmetric_for_ms": 40, "via_srv6": 3}],
                            "renatted_flows": ["tcp 10.99.0.2:40000->198.51.100.10:8081"]}
    md = render_apps({}, [run], {})
    assert "## Two exits" in md and "| l3roam@walk-1 | 2 | r3→r5 | r4 (150) | yes |" in md
    assert "r2 (140), r4 (8)" in md and "tcp 10.99.0.2:40000->198.51.100.10:8081" in md
