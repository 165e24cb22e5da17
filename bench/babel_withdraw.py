"""How long an upstream router has no route when an on-path AP withdraws a /32.

Builds a 5-router line (APs r1, r3, r5), announces a /32 from r3 (proto 44),
then the same /32 from r5 (the client moved), waits, deletes it on r3 and
watches the routes of r3 and r2 with `ip monitor route`.  Prints, relative to
the deletion on r3: when r2 installed `unreachable`, when r3 installed the
route learned from the new AP, and when r2 had a route again.

    python3 bench/babel_withdraw.py [--wait 1.5] [--repeat 3] [--revisit]

With ``--revisit`` the /32 is first announced by r5 and withdrawn, as when a
client comes back to an AP it was at before: r5's new announcement then
carries the same seqno as the one r3 and r4 remember, is not feasible for
them (RFC 8966 §3.5.1: same seqno, metric not smaller), r4 stays on r3's route
and r3 has nothing to fall back on when it withdraws.
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.testbed import topology  # noqa: E402
from l3roam.testbed.builder import Testbed  # noqa: E402

YAML = """
mesh: {shape: line, routers: 5}
aps: [r1, r3, r5]
master: r2
server: r2
clients: [{name: c1, ap: r1}]
"""
TS = re.compile(r"^\[(\S+)\]\s+(.*)$")


def stamps(text: str, ip: str) -> list[tuple[float, str]]:
    out = []
    for line in text.splitlines():
        m = TS.match(line)
        if m and ip in m.group(2):
            t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            out.append((t, m.group(2)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait", type=float, default=1.5, help="seconds between r5's add and r3's delete")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--revisit", action="store_true", help="r5 announced the /32 before (same seqno)")
    args = ap.parse_args()
    tb = Testbed(topology.loads(YAML, prefix="l3r-bw-"))
    try:
        tb.up()
        print(f"converged in {tb.wait_converged(30):.1f} s")
        for i in range(args.repeat):
            ip = f"10.99.5.{10 + i}"
            if args.revisit:
                tb.exec("r5", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
                time.sleep(3)
                tb.exec("r5", ["ip", "route", "del", f"{ip}/32", "proto", "44"])
            tb.exec("r3", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
            time.sleep(3)
            mons = {r: subprocess.Popen(["ip", "netns", "exec", tb.ns(r), "ip", "-ts", "monitor", "route"],
                                        stdout=subprocess.PIPE, text=True) for r in ("r2", "r3")}
            time.sleep(0.3)
            tb.exec("r5", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
            time.sleep(args.wait)
            t0 = time.time()
            tb.exec("r3", ["ip", "route", "del", f"{ip}/32", "proto", "44"])
            time.sleep(2)
            out = {}
            for r, p in mons.items():
                p.terminate()
                out[r] = stamps(p.communicate()[0], ip)
            ms = lambda t: f"{(t - t0) * 1000:+.0f} ms"  # noqa: E731
            unreach = [t for t, l in out["r2"] if l.startswith("unreachable")]
            back = [t for t, l in out["r2"] if l.startswith(ip) and t > t0]
            r3new = [t for t, l in out["r3"] if l.startswith(ip) and "babel" in l and t > t0]
            print(f"run {i + 1}: r2 unreachable at {ms(unreach[0]) if unreach else '-'}, "
                  f"r3 learned route at {ms(r3new[0]) if r3new else '-'}, "
                  f"r2 route again at {ms(back[0]) if back else '-'}")
            tb.exec("r5", ["ip", "route", "del", f"{ip}/32", "proto", "44"])
    finally:
        tb.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
