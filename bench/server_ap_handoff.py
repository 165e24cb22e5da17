"""Traffic that an AP originates itself while its client is handed off (the "server on the AP" case).

Builds a 5-router line (APs r1, r3, r5), runs l3roam with hand-off, gives
client c1 an address by DHCP at r1, then pings the client from r1 every
10 ms while the client moves r1 -> r3 -> r1 -> r3 -> r1 (3 s apart), and
prints, per move, the longest interval without a reply and r1's route
changes for the client (``ip monitor route``).  Departures from r1 are the
case where r1's own traffic must follow the SRv6 redirect.

    python3 bench/server_ap_handoff.py [--prefix l3b-sa-] [--runs 3] [--flush] [--source 10.255.0.1]

``--flush`` runs ``ip route flush cache`` on r1 50 ms after each move;
``--source`` pins ping's source address.  Findings: docs/results-community.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.testbed import topology  # noqa: E402
from l3roam.testbed.air import Air  # noqa: E402
from l3roam.testbed.builder import Testbed  # noqa: E402
from l3roam.testbed.deploy import Deployment  # noqa: E402
from l3roam.testbed.dhcpclient import DhcpClient  # noqa: E402

YAML = "mesh: {shape: line, routers: 5}\naps: [r1, r3, r5]\nserver: r1\nclients: [{name: c1, ap: r1}]\n"


def one_run(prefix: str, flush: bool, source: str | None) -> list[tuple[str, float]]:
    tb = Testbed(topology.loads(YAML, prefix=prefix))
    out: list[tuple[str, float]] = []
    try:
        tb.up()
        tb.wait_converged()
        Deployment(tb, handoff=True).start()
        dhcp = DhcpClient("udhcpc", tb.ns("c1"), "wlan0", tb.run_dir / "c1", "bench").start()
        ip = dhcp.wait_bound(30)
        tb.wait_reachable("r1", ip)
        argv = ["ip", "netns", "exec", tb.ns("r1"), "ping", "-D", "-i", "0.01", "-W", "0.01"]
        argv += (["-I", source] if source else []) + [ip]
        ping = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(1)
        air = Air(tb)
        moves = []
        for dst in ("r3", "r1", "r3", "r1"):
            rec = air.move("c1", dst)
            moves.append((f"{rec.src}->{rec.dst}", rec.t_start))
            if flush:
                time.sleep(0.05)
                subprocess.run(["ip", "-n", tb.ns("r1"), "route", "flush", "cache"], check=True)
            time.sleep(3)
        ping.terminate()
        text = ping.communicate()[0]
        dhcp.stop()
        replies = [float(line.split("]")[0][1:]) for line in text.splitlines()
                   if line.startswith("[") and "bytes from" in line]
        for name, t0 in moves:
            window = [t for t in replies if t0 - 0.2 <= t <= t0 + 2.5]
            gap = max((b - a for a, b in zip(window, window[1:])), default=float("nan"))
            out.append((name, gap))
    finally:
        tb.down()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", default="l3b-sa-")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--flush", action="store_true")
    ap.add_argument("--source")
    args = ap.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}; flush {args.flush}; source {args.source or 'by route'}")
    long = total = 0
    for k in range(args.runs):
        res = one_run(args.prefix, args.flush, args.source)
        print(f"run {k + 1}: " + ", ".join(f"{n} {g * 1000:.0f} ms" for n, g in res), flush=True)
        for n, g in res:
            if n.startswith("r1->"):
                total += 1
                long += g > 0.9
    print(f"departures from the pinging AP with a gap over 900 ms: {long} of {total}; load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
