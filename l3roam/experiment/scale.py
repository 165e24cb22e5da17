"""How large a mesh this machine carries: lines, grids and community graphs.

Each case is a testbed of only routers running babeld (hello from the spec):
build time, time until every router routes to every loopback, then 5 s of
babeld CPU, babeld RSS, memory used and table sizes.  A case that fails (a
mesh too large for the machine) is a result, recorded, and ends the series.

Side effects: testbeds in namespaces with the experiment's prefix.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

from l3roam.experiment import costs as cost
from l3roam.experiment.spec import ScaleSpec
from l3roam.testbed import topology
from l3roam.testbed.builder import Testbed


def run_scale(s: ScaleSpec, prefix: str, spec_dir: Path, out: Path, say: Callable[[str], None]) -> None:
    """Build, converge and measure each mesh of the spec; stop at the first that fails; writes scale.json/csv."""
    rows: list[dict] = []
    cases: list[tuple[str, dict]] = []
    for n in s.lines:
        cases.append((f"line {n}", {"shape": "line", "routers": n}))
    for n in s.grids:
        cases.append((f"grid {n}x{n}", {"shape": "grid", "rows": n, "cols": n}))
    if s.graph is not None:
        g = s.graph if s.graph.is_absolute() else spec_dir / s.graph
        for n in s.sizes:
            cases.append((f"{g.stem} {n}", {"shape": "graph", "graph": str(g), "max_routers": n}))
    say(f"scale: {', '.join(c[0] for c in cases)} (hello {'by size' if s.hello is None else f'{s.hello:g} s'})")
    for name, mesh in cases:
        babel = {} if s.hello is None else {"hello_interval": s.hello}
        text = json.dumps({"mesh": mesh, "ap_count": 2, "babel": babel, "prefix": prefix})
        topo = topology.loads(text)
        tb = Testbed(topo)
        row = {"case": name, "routers": len(topo.routers), "links": len(topo.links), "ok": False,
               "hello": topo.hello_interval, "update": topo.update_interval}
        mem0 = _mem_available_kib()
        t0 = time.monotonic()
        try:
            tb.up()
            row["build_s"] = round(time.monotonic() - t0, 1)
            row["converge_s"] = round(tb.wait_converged(s.converge_timeout), 1)
            cost.install_counters(tb)
            time.sleep(3)
            b0 = cost.Snapshot.take(tb, time.monotonic(), [])
            time.sleep(5)
            b1 = cost.Snapshot.take(tb, time.monotonic(), [])
            r = cost.rates(b0, b1, len(topo.links), len(topo.routers), 0)
            rss = [cost.rss_kib(p) for p in cost.babeld_pids(tb).values()]
            sizes = cost.table_sizes(tb)
            row.update({"ok": True, "babeld_cpu_percent_total": round(r["babeld_cpu_percent_per_router"] * len(topo.routers), 1),
                        "babeld_rss_mib_total": round(sum(rss) / 1024, 1),
                        "babeld_rss_kib_per_router": round(sum(rss) / max(len(rss), 1)),
                        "memory_used_mib": round((mem0 - _mem_available_kib()) / 1024),
                        "table_max": max(sizes.values())})
        except Exception as exc:  # a mesh too large for the machine is a result, not a crash
            row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            t_down = time.monotonic()
            tb.down()
            row["teardown_s"] = round(time.monotonic() - t_down, 1)
        rows.append(row)
        say(f"  {name}: {row['routers']} routers, " + (
            f"built in {row['build_s']} s, converged in {row['converge_s']} s, babeld "
            f"{row['babeld_rss_mib_total']} MiB, CPU {row['babeld_cpu_percent_total']} % of one core"
            if row["ok"] else f"FAILED: {row.get('error')}"))
        (out / "scale.json").write_text(json.dumps(rows, indent=1))
        if not row["ok"]:
            break
    if rows:
        with open(out / "scale.csv", "w", newline="") as f:
            keys = list(dict.fromkeys(k for r in rows for k in r))
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)


def _mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0
