"""The client-scale experiment end to end on a 3-router line: leases through the master,
checked /32s in a burst at two APs, roams, every router checked for every route; the
"Many clients" section renders into an existing Markdown file.

Real namespaces, babeld, master, agents, drivers and tcpdump; about 60 s.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l3roam.testbed.clean import clean, list_netns

pytestmark = [pytest.mark.netns, pytest.mark.babeld, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_client_scale_run_checks_every_route_and_renders_its_section(tmp_path):
    (tmp_path / "line3.yaml").write_text("mesh: {shape: line, routers: 3}\naps: [r1, r3]\nclients: []\n")
    (tmp_path / "exp.yaml").write_text("""
testbed: line3.yaml
client_scale:
  enabled: true
  meshes: [{name: line3, testbed: line3.yaml}]
  clients: [0, 300]
  roam_rates: [10]
  window: 6             # > 1.25 x the 4 s update interval: a full update falls inside
  settle_timeout: 30
""")
    prefix = f"l3rt-cs{os.getpid() % 1000:03d}-"
    out = tmp_path / "out"
    try:
        proc = subprocess.run([sys.executable, "-m", "l3roam", "experiment", str(tmp_path / "exp.yaml"),
                               "--out", str(out), "--prefix", prefix, "--no-report"],
                              capture_output=True, text=True, timeout=240, cwd=ROOT)
    finally:
        clean(prefix)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert list_netns(prefix) == []
    res = json.loads((out / "clientscale-line3.json").read_text())
    assert "error" not in res, res.get("error")
    pts = res["points"]
    assert [(p["clients"], p["roam_rate"]) for p in pts] == [(0, 0.0), (300, 0.0), (300, 10.0)]
    for p in pts:
        assert p["coverage"]["all_routes_everywhere"], p["coverage"]
        assert p["coverage"]["routes_min"] == p["clients"]
    assert pts[1]["add"] == {"added": 300, "lease_failed": 0, "route_failed": 0, "seconds": pts[1]["add"]["seconds"]}
    roam = pts[2]
    assert roam["roams"] >= 20 and roam["roam_failures"] == 0, roam.get("roam_errors")
    assert roam["master_ops_per_s"] > 5
    # 300 clients, 6 s: the captured end sent every client at least once (a full update)
    assert pts[1]["capture"]["tally"]["update"]["count"] >= 300
    assert pts[1]["babel_bytes_per_s_per_link"]["mean"] > pts[0]["babel_bytes_per_s_per_link"]["mean"]

    md = tmp_path / "results.md"
    md.write_text("# Results\n\nother helpers' text\n")
    r = subprocess.run([sys.executable, "-m", "l3roam", "report", str(out), "--md", str(md),
                        "--figures", str(tmp_path / "fig")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    assert text.startswith("# Results\n\nother helpers' text\n")
    assert "| line3 | 300 | 10 |" in text and "**yes**" in text
