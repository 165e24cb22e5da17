"""Whole community meshes on this machine: build, converge, cost, teardown.

For each case (the shipped Freifunk graphs whole, a 300-router random mesh,
and a 50-router cut of Ulm as the baseline of the same run): build the
testbed (routers only, babel timers chosen by size unless given), wait for
every router to route to every loopback, measure 10 s of steady babeld CPU,
babeld RSS, memory used and the kernel's IPv6 neighbour entries, then tear
down.  Prints a table (with the load average) and ratios against the
baseline, writes JSON with ``--out``.

    flock /tmp/l3roam-heavy.lock python3 bench/whole_graphs.py --prefix h14- [--out f.json] [--hello 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.errors import ConvergenceError  # noqa: E402
from l3roam.experiment import costs  # noqa: E402
from l3roam.testbed import topology  # noqa: E402
from l3roam.testbed.builder import Testbed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GRAPHS = REPO / "configs" / "topologies"
CASES = {
    "ulm-50": {"shape": "graph", "graph": str(GRAPHS / "freifunk-ulm.json"), "max_routers": 50},
    "ulm": {"shape": "graph", "graph": str(GRAPHS / "freifunk-ulm.json"), "max_routers": 1000},
    "bielefeld": {"shape": "graph", "graph": str(GRAPHS / "freifunk-bielefeld.json"), "max_routers": 1000},
    "random-300": {"shape": "random", "routers": 300, "extra_links": 300, "seed": 1},
}


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, IndexError):
            pass
    return total


def _mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def _ndisc_entries() -> int:
    return int(Path("/proc/net/stat/ndisc_cache").read_text().splitlines()[1].split()[0], 16)


def run_case(name: str, mesh: dict, prefix: str, hello: float | None, update: float | None) -> dict:
    babel = {k: v for k, v in (("hello_interval", hello), ("update_interval", update)) if v is not None}
    topo = topology.loads(json.dumps({"mesh": mesh, "ap_count": 2, "babel": babel, "prefix": prefix}))
    tb = Testbed(topo)
    row = {"case": name, "routers": len(topo.routers), "links": len(topo.links), "hello": topo.hello_interval,
           "update": topo.update_interval, "load_before": round(os.getloadavg()[0], 1), "ok": False}
    mem0 = _mem_available_kib()
    try:
        tb.up()
        row["build_s"] = round(tb.build_seconds, 1)
        try:
            row["converge_s"] = round(tb.wait_converged(), 1)
            row["ok"] = True
        except ConvergenceError as exc:
            row["error"] = str(exc)
        pids = list(costs.babeld_pids(tb).values())
        c0, t0 = _cpu_ticks(pids), time.monotonic()
        time.sleep(10)
        row["babeld_cpu_percent"] = round(100 * (_cpu_ticks(pids) - c0) / os.sysconf("SC_CLK_TCK")
                                          / (time.monotonic() - t0), 1)
        row["babeld_rss_mib"] = round(sum(costs.rss_kib(p) for p in pids) / 1024)
        row["memory_used_mib"] = round((mem0 - _mem_available_kib()) / 1024)
        row["ndisc_entries"] = _ndisc_entries()
        row["load_after"] = round(os.getloadavg()[0], 1)
    finally:
        t = time.monotonic()
        tb.down()
        row["teardown_s"] = round(time.monotonic() - t, 1)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", default="l3b-wg-")
    ap.add_argument("--cases", default="ulm-50,ulm,bielefeld,random-300")
    ap.add_argument("--hello", type=float, default=None, help="babel hello interval (default: by size)")
    ap.add_argument("--update", type=float, default=None)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    print(f"uptime: {open('/proc/loadavg').read().strip()}; {os.cpu_count()} cores", flush=True)
    for name in args.cases.split(","):
        row = run_case(name, CASES[name], args.prefix, args.hello, args.update)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=1))
    head = ("case", "routers", "links", "hello", "build_s", "converge_s", "babeld_cpu_percent", "babeld_rss_mib",
            "teardown_s", "ndisc_entries", "load_before")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(str(r.get(k, "–")) for k in head))
    base = next((r for r in rows if r["case"] == "ulm-50" and r["ok"]), None)
    if base:
        for r in rows:
            if r is not base and r.get("build_s") is not None:
                per = lambda k: r[k] / r["routers"] / max(base[k] / base["routers"], 1e-9)  # noqa: E731
                print(f"{r['case']}: per router {per('build_s'):.1f}x the baseline's build time, "
                      f"{per('teardown_s'):.1f}x its teardown time")
    print(f"uptime: {open('/proc/loadavg').read().strip()}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
