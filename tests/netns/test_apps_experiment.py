"""The smallest application experiment end to end (configs/experiments/apps-tiny.yaml): l3roam with
hand-off, two roams 3 s apart, every application probe through the exit's NAT, then the report.

Real namespaces, babeld, node agents, udhcpc, nginx with its RTMP module, ffmpeg, sipp, curl,
tcpdump and conntrack; about a minute.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l3roam.testbed.clean import clean, list_netns

pytestmark = [pytest.mark.netns, pytest.mark.babeld, pytest.mark.dhcpclient, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_every_application_probe_runs_across_two_roams_and_reports(tmp_path):
    prefix = f"l3rt-ap-{os.getpid() % 1000:03d}-"
    out = tmp_path / "out"
    try:
        proc = subprocess.run([sys.executable, "-m", "l3roam", "experiment",
                               str(ROOT / "configs" / "experiments" / "apps-tiny.yaml"), "--out", str(out),
                               "--prefix", prefix], capture_output=True, text=True, timeout=240, cwd=ROOT)
    finally:
        clean(prefix)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list_netns(prefix) == []
    runs = json.loads((out / "runs.json").read_text())
    assert len(runs) == 1 and "error" not in runs[0], runs[0].get("error")
    run = runs[0]
    assert run["pace"] == "fast" and len(run["roams"]) == 2
    assert {r["addr_after"] for r in run["roams"]} == {run["ip_before"]}  # l3roam keeps the address
    apps = run["apps"]
    # every probe ran and its session lived through both roams
    hls = apps["hls"]
    assert hls["ran"] and hls["segments"] >= 5 and not hls["stalled_at_end"]
    for d in ("down", "up"):
        assert apps["rtmp"][d]["ran"] and apps["rtmp"][d]["frames"] > 100 and apps["rtmp"][d]["survived"], apps["rtmp"]
    sip = apps["sip"]
    assert sip["ran"] and sip["clean_bye"] and sip["up"]["sent"] > 500 and sip["down"]["sent"] > 400
    assert len(sip["down"]["per_roam"]) == 2 and 1.0 <= sip["mos"] <= 4.5
    dl = apps["download"]
    assert dl["complete"] and dl["bytes"] == dl["expected"] > 0
    assert 3 < dl["mbit_s"] < 11  # the 10 Mbit/s class at the server's uplink holds it
    # the call's packets were traced through the mesh and left by the one exit
    paths = apps["paths"]["per_roam"]
    assert len(paths) == 2 and all(set(p["exits"]) == {"r2"} for p in paths)
    assert all(any(k.endswith(">r2") for k in p["up"]) for p in paths)
    assert apps["paths"]["renatted_flows"] == []
    for app in ("hls", "rtmp", "sip", "download"):
        assert apps[app]["verdict"] in ("works", "degraded", "breaks")
    md = (out / "report.md").read_text()
    assert "| l3roam@fast |" in md and "## Paths and NAT" in md
    import matplotlib.image as mpimg

    for name in ("apps-hls.png", "apps-rtmp.png", "apps-sip.png", "apps-download.png"):
        assert f"(figures/{name})" in md
        assert mpimg.imread(out / "figures" / name).shape[0] > 100
