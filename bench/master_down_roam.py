"""Roaming while the lease master is dead: downstream gap and TCP stall, before and after.

On the demo's 5-router line (APs r1, r3, r5; master and server on r2) a real
udhcpc client gets its lease at r1; the agents learn the lease table (lease
sync every 5 s here); then the master is killed with SIGKILL and the client
roams r1 -> r3 while the server sends 100 UDP probes/s to it and a TCP stream
runs.  Two agent settings, one testbed each, in the same run:

- ``before``: what l3roam did without a master: no service for a client the
  master cannot confirm, the old AP announcing until its 5 s departure timeout
  (``master_down: {serve_known_leases: false, check_seconds: null}``);
- ``after``: the defaults: the new AP serves the known lease once the claim
  has waited 0.3 s, the old AP withdraws when the master is silent for 0.5 s
  after the station left.

    sudo python3 bench/master_down_roam.py [--repeat 2] [--prefix l3rb-md-]

Prints per roam the longest downstream gap, probes lost and the longest TCP
stall, with the load.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.testbed.session import run_roams  # noqa: E402
from l3roam.testbed import topology  # noqa: E402
from l3roam.testbed.builder import Testbed  # noqa: E402
from l3roam.testbed.deploy import Deployment  # noqa: E402
from l3roam.testbed.dhcpclient import DhcpClient  # noqa: E402
from l3roam.testbed.schedule import Move  # noqa: E402
from l3roam.testbed.topology import CLIENT_IFNAME  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "before": "master_down: {serve_known_leases: false, check_seconds: null, lease_sync_seconds: 0}\n",
    "after": "master_down: {lease_sync_seconds: 5}\n",
}


def one(design: str, prefix: str) -> dict:
    topo = topology.load(ROOT / "configs" / "testbed" / "line5.yaml", prefix=prefix)
    tb = Testbed(topo)
    dhcp = None
    try:
        tb.up()
        tb.wait_converged(30)
        dep = Deployment(tb, handoff=True, extra_node=SETTINGS[design]).start()
        dhcp = DhcpClient("udhcpc", tb.ns("c1"), CLIENT_IFNAME, tb.run_dir / "c1", "md").start()
        ip = dhcp.wait_bound(30)
        tb.wait_reachable(topo.server, ip, 20)
        time.sleep(6.0)  # one lease sync after the bind
        dep.procs["master"].kill()  # kill -9
        dep.procs["master"].wait(5)
        time.sleep(0.5)
        res = run_roams(tb, "c1", ip, [Move(0.0, "c1", "r1", "r3")], tb.run_dir / "session",
                        lead_in=1.0, tail=12.0)
        r, up = res.down[0], res.up[0]
        tcp = res.tcp or {}
        served = "event=served_provisionally" in dep.log("r3", "node")
        silent = "event=master_silent" in dep.log("r1", "node")
        return {"gap_ms": r.gap_ms, "lost": r.lost, "up_gap_ms": up.gap_ms, "tcp_stall_ms": tcp.get("longest_stall_ms"),
                "tcp_alive": tcp.get("alive"), "provisional": served, "old_withdrew": silent,
                "address_kept": tb.client_address("c1") == ip}
    finally:
        if dhcp is not None:
            dhcp.stop()
        tb.down()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--prefix", default="l3rb-md-")
    args = ap.parse_args()
    results: dict[str, list[dict]] = {d: [] for d in SETTINGS}
    for i in range(args.repeat):
        for d in SETTINGS:
            results[d].append(one(d, f"{args.prefix}{d[0]}{i}-"))
            print(f"  {d} #{i + 1}: {results[d][-1]}", flush=True)
    load = os.getloadavg()
    print(f"\nmaster killed (SIGKILL), then one roam r1 -> r3; "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'design':8} {'gap ms (each)':28} {'median':>7} {'TCP stall ms (each)':28} {'median':>7}"
          "   (TCP broken: the session died, its stall is unbounded)")
    base = None
    for d, rs in results.items():
        gaps = [r["gap_ms"] for r in rs]
        stalls = [(r["tcp_stall_ms"] or 0) if r["tcp_alive"] else float("inf") for r in rs]
        med = statistics.median(gaps)
        base = base or med
        print(f"{d:8} {' '.join(f'{g:.0f}' for g in gaps):28} {med:7.0f} "
              f"{' '.join('broken' if s == float('inf') else f'{s:.0f}' for s in stalls):28} "
              f"{statistics.median(stalls):7.0f}"
              f"   x{med / base:.2f} of before")


if __name__ == "__main__":
    main()
