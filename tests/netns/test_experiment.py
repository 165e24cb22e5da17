"""A tiny experiment end to end: l3roam with hand-off against the L2 baseline, three
roams each, on the demo's 5-router line; the report and its figures must come out.

Real namespaces, babeld, node agents, udhcpc and dnsmasq; about 45 s.
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


def test_tiny_experiment_writes_results_and_a_report(tmp_path):
    prefix = f"l3rt-ex-{os.getpid() % 1000:03d}-"
    out = tmp_path / "out"
    try:
        proc = subprocess.run([sys.executable, "-m", "l3roam", "experiment",
                               str(ROOT / "configs" / "experiments" / "tiny.yaml"), "--out", str(out),
                               "--prefix", prefix], capture_output=True, text=True, timeout=150, cwd=ROOT)
    finally:
        clean(prefix)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "(2/2) scenario l2" in proc.stdout  # progress was shown
    assert list_netns(prefix) == []

    runs = {r["scenario"]: r for r in json.loads((out / "runs.json").read_text())}
    assert set(runs) == {"l3roam", "l2"}
    for r in runs.values():
        assert "error" not in r
        assert len(r["roams"]) == 3
        assert all(x["down_gap_ms"] < 2000 for x in r["roams"]), r["roams"]  # generous: traffic resumed
        assert r["control"]["babel_bytes_per_s_per_link"] > 0
    assert runs["l3roam"]["tcp"]["alive"]
    assert {x["addr_after"] for x in runs["l3roam"]["roams"]} == {runs["l3roam"]["ip_before"]}
    assert len((out / "roams.csv").read_text().splitlines()) == 1 + 6

    md = (out / "report.md").read_text()
    assert "## Verdict" in md and "| l3roam |" in md and "| l2 |" in md
    import matplotlib.image as mpimg

    for name in ("timeline.png", "gap-cdf.png"):
        assert f"(figures/{name})" in md
        assert mpimg.imread(out / "figures" / name).shape[0] > 100
