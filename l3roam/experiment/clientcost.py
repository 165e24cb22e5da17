"""Costs against clients and roam rate: lightweight clients on an l3roam testbed.

A lightweight client is a lease from the master, taken through the master's
client library inside an AP's namespace (``l3roam.experiment.lightclients``),
and a /32 of protocol 44 on an AP: the route an agent installs for a real
client, but no namespace.  Clients are added up to each count of the spec
(spread round-robin over the APs); at the largest count, /32s are then moved
to the next AP at each roam rate.  Per point: babel traffic per link, table
sizes, CPU of babeld and agents (``l3roam.experiment.costs``).

Side effects: a testbed, the master and agents, ``ip -batch`` processes.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from l3roam.experiment import costs as cost
from l3roam.experiment.spec import CostSpec
from l3roam.testbed.builder import Testbed
from l3roam.testbed.deploy import MASTER_PORT, Deployment
from l3roam.testbed.topology import CELL_BRIDGE, Topology


def run_costs(c: CostSpec, topo: Topology, out: Path, say: Callable[[str], None]) -> None:
    """Lightweight clients up to each count, then roams at each rate; writes costs.json and costs.csv."""
    say(f"costs: lightweight clients {list(c.clients)}, roam rates {list(c.roam_rates)}/s")
    tb = Testbed(topo)
    points: list[dict] = []
    batches: dict[str, "subprocess.Popen"] = {}
    try:
        tb.up()
        tb.wait_converged(60)
        dep = Deployment(tb, handoff=True).start()
        cost.install_counters(tb)
        agent_pids = [p.pid for p in dep.procs.values()]  # type: ignore[attr-defined]
        errlogs = {}
        for ap in topo.aps:  # one long-lived "ip -batch" per AP: route changes without process starts
            # -force carries on past a failed line; its errors go to a file and are counted per point
            errlogs[ap] = tb.run_dir / ap / "ip-batch.err"
            errlogs[ap].parent.mkdir(parents=True, exist_ok=True)
            with open(errlogs[ap], "w") as err:
                batches[ap] = subprocess.Popen(["ip", "-n", tb.ns(ap), "-force", "-batch", "-"],
                                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                               stderr=err, text=True)
        where: dict[str, str] = {}  # client ip -> AP
        proto = topo.spec.babel.client_proto
        have = 0
        for n in sorted(c.clients):
            if n > have:
                ips = _lease(tb, dep, say, topo.aps[0], have, n - have, MASTER_PORT)
                for k, ip in enumerate(ips):
                    ap = topo.aps[(have + k) % len(topo.aps)]
                    where[ip] = ap
                    batches[ap].stdin.write(f"route replace {ip}/32 dev {CELL_BRIDGE} proto {proto}\n")
                for b in batches.values():
                    b.stdin.flush()
                have = n
            settle = _wait_table(tb, topo, len(where))
            points.append(_cost_point(say, tb, topo, agent_pids, len(where), 0.0, c.window, settle))
            points[-1]["route_failures"] = _failed_lines(errlogs)
        ips = list(where)
        for rate in sorted(x for x in c.roam_rates if x > 0):
            if not ips:
                break
            points.append(_cost_point(say, tb, topo, agent_pids, len(where), rate, c.window, None,
                                           mover=(batches, where, proto)))
            points[-1]["route_failures"] = _failed_lines(errlogs)
    finally:
        for b in batches.values():
            try:
                b.stdin.close()
            except OSError:
                pass
            b.wait(5)
        tb.down()
    (out / "costs.json").write_text(json.dumps(points, indent=1))
    if points:
        with open(out / "costs.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(points[0]), extrasaction="ignore")
            w.writeheader()
            w.writerows(points)

def _failed_lines(errlogs: dict) -> int:
    """Route changes ip -batch refused so far, over all APs (ip says "Command failed" per line)."""
    n = 0
    for path in errlogs.values():
        try:
            n += path.read_text().count("Command failed")
        except OSError:
            pass
    if n:
        print(f"  warning: {n} route changes failed (ip -batch errors in {', '.join(map(str, errlogs.values()))})")
    return n


def _lease(tb: Testbed, dep, say, ap: str, first: int, count: int, port: int) -> list[str]:
    out = tb.exec(ap, [sys.executable, "-m", "l3roam.experiment.lightclients", "--master",
                       f"{dep.master_address}:{port}", "--key", dep.key, "--node", ap,
                       "--first", str(first), "--count", str(count)], check=False, timeout=120)
    got = json.loads(out.stdout or "{}")
    if len(got) < count:
        say(f"  warning: {count - len(got)} of {count} lightweight leases failed: {out.stderr.strip()[-200:]}")
    return list(got.values())

def _wait_table(tb: Testbed, topo: Topology, n: int, timeout: float = 60.0) -> float:
    """Seconds until the router farthest from the APs holds all ``n`` client routes."""
    far = max((r.name for r in topo.routers), key=lambda x: min(topo.hops(x)[a] for a in topo.aps))
    t0 = time.monotonic()
    net = topo.spec.addressing.client_prefix
    while time.monotonic() - t0 < timeout:
        routes = tb.routes(far, "babel")
        k = sum(1 for r in routes if r.get("type", "unicast") == "unicast" and "/" not in r["dst"]
                and ipaddress.ip_address(r["dst"]) in net)
        if k >= n:
            return time.monotonic() - t0
        time.sleep(0.2)
    return float("nan")

def _cost_point(say, tb, topo, agent_pids, clients, rate, window, settle, mover=None) -> dict:
    time.sleep(1.0)
    a = cost.Snapshot.take(tb, time.monotonic(), agent_pids)
    step = None
    if mover is not None:
        batches, where, proto = mover
        ips = list(where)

        def _step(k: int) -> None:  # the /32 moves to the next AP: new one first, then the old goes
            ip = ips[k % len(ips)]
            old = where[ip]
            new = topo.aps[(topo.aps.index(old) + 1) % len(topo.aps)]
            batches[new].stdin.write(f"route replace {ip}/32 dev {CELL_BRIDGE} proto {proto}\n")
            batches[new].stdin.flush()
            batches[old].stdin.write(f"route del {ip}/32 proto {proto}\n")
            batches[old].stdin.flush()
            where[ip] = new
        step = _step
    moved = cost.paced_moves(rate, window, step)
    b = cost.Snapshot.take(tb, time.monotonic(), agent_pids)
    sizes = cost.table_sizes(tb)
    rss = [cost.rss_kib(p) for p in cost.babeld_pids(tb).values()]
    point = {"clients": clients, "roam_rate": rate, "roams": moved,
             **cost.rates(a, b, len(topo.links), len(topo.routers), len(agent_pids)),
             "table_max": max(sizes.values()), "table_median": sorted(sizes.values())[len(sizes) // 2],
             "babeld_rss_kib_max": max(rss) if rss else None,
             "settle_s": None if settle is None else round(settle, 2)}
    say(f"  {clients} clients, {rate:g} roams/s: babel {point['babel_bytes_per_s_per_link']:.0f} B/s "
             f"({point['babel_packets_per_s_per_link']:.1f} pkt/s) per link, table up to {point['table_max']}, "
             f"babeld CPU {point['babeld_cpu_percent_per_router']:.2f} %/router")
    return point

# ------------------------------------------------------------------ scale
