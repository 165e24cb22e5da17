"""How long an upstream router has no route when an on-path AP withdraws a /32.

Builds a 5-router line (APs r1, r3, r5), announces a /32 from r3 (proto 44),
then the same /32 from r5 (the client moved), waits, deletes it on r3 and
watches the routes of r3 and r2 with `ip monitor route`.  Prints, relative to
the deletion on r3: when r2 installed `unreachable`, when r3 installed the
route learned from the new AP, and when r2 had a route again.

    python3 bench/babel_withdraw.py [--wait 1.5] [--repeat 3] [--revisit] [--mode delete|demote|mbb]
                                    [--smoothing 4]

Modes (what r3, the old AP, does once r5 announces the /32):

- ``delete``: wait ``--wait`` seconds, delete its /32 (the withdrawal before
  make-before-break);
- ``demote``: at once re-file its /32 under the demoted protocol (45, which
  babeld announces at a high metric), wait ``--wait``, delete;
- ``mbb``: demote at once, watch its own babeld (local socket) until it holds a
  finite route to the /32 from r5's router-id, then delete (make-before-break).

``--before-r1``: the /32 was announced by r1 before r3 (then demoted and
withdrawn there), so r3's babeld holds a frozen route via r2 (r2's later
updates carry r3's own id and are ignored); ``--rule first`` withdraws at the
first route from r5 (babeld may then pick the frozen route: a black hole at
r2), ``--rule strict`` (the node agent's rule) once r5's route beats every
other route babeld holds for the /32.

``--smoothing`` sets babeld's smoothing-half-life (l3roam renders 0; babeld's
default is 4).  Every run watches *every* router's table and reports whether any
installed ``unreachable`` for the /32.

With ``--revisit`` the /32 is first announced by r5 and withdrawn, as when a
client comes back to an AP it was at before: r5's new announcement then
carries the same seqno as the one r3 and r4 remember, is not feasible for
them (RFC 8966 §3.5.1: same seqno, metric not smaller), r4 stays on r3's route
and r3 has nothing to fall back on when it withdraws.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import datetime
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.babel.control import BabelControl  # noqa: E402
from l3roam.babel.control_lines import RouteChanged  # noqa: E402
from l3roam.testbed import topology  # noqa: E402
from l3roam.testbed.builder import Testbed  # noqa: E402
from l3roam.testbed.plan import StartBabeld, Step  # noqa: E402

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
    ap.add_argument("--mode", choices=("delete", "demote", "mbb"), default="delete")
    ap.add_argument("--smoothing", type=int, default=None, help="babeld smoothing-half-life (default: l3roam's)")
    ap.add_argument("--prefix", default="l3r-bw-")
    ap.add_argument("--before-r1", action="store_true",
                    help="the /32 was at r1 before r3: r3's babeld keeps a frozen route from r2 (see docs/babel.md)")
    ap.add_argument("--rule", choices=("first", "strict"), default="strict",
                    help="mbb: withdraw at the first route from r5, or once it beats every other route")
    args = ap.parse_args()
    tb = Testbed(topology.loads(YAML, prefix=args.prefix))
    if args.smoothing is not None:
        tb.steps = [dataclasses.replace(st, do=tuple(
            dataclasses.replace(a, config=re.sub(r"smoothing-half-life \d+\n", "", a.config).replace(
                "kernel-priority", f"smoothing-half-life {args.smoothing}\nkernel-priority"))
            if isinstance(a, StartBabeld) else a for a in st.do)) if isinstance(st, Step) else st for st in tb.steps]
    r5_id = tb.topo.router("r5").router_id
    routers = [r.name for r in tb.topo.routers]
    summary = []
    try:
        tb.up()
        print(f"converged in {tb.wait_converged(30):.1f} s")
        for i in range(args.repeat):
            ip = f"10.99.5.{10 + i}"
            if args.revisit:
                tb.exec("r5", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
                time.sleep(3)
                tb.exec("r5", ["ip", "route", "del", f"{ip}/32", "proto", "44"])
            if args.before_r1:  # the client came to r3 from r1 (r1: demote, then withdraw)
                tb.exec("r1", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
                time.sleep(3)
            tb.exec("r3", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
            if args.before_r1:
                tb.exec("r1", ["ip", "route", "replace", f"{ip}/32", "dev", "cell0", "proto", "45"])
                time.sleep(1.0)
                tb.exec("r1", ["ip", "route", "del", f"{ip}/32", "proto", "45"])
            time.sleep(3)
            mons = {r: subprocess.Popen(["ip", "netns", "exec", tb.ns(r), "ip", "-ts", "monitor", "route"],
                                        stdout=subprocess.PIPE, text=True) for r in routers}
            time.sleep(0.3)
            t_move = time.time()
            tb.exec("r5", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
            proto = "44"
            if args.mode in ("demote", "mbb"):
                tb.exec("r3", ["ip", "route", "replace", f"{ip}/32", "dev", "cell0", "proto", "45"])
                proto = "45"
            if args.mode == "mbb":
                with BabelControl(tb.babeld_socket("r3")) as ctl:
                    seen = {}
                    for ev in ctl.monitor(duration=5.0):
                        r = ev.route
                        if r.prefix != f"{ip}/32":
                            continue
                        if isinstance(ev, RouteChanged):
                            seen[r.key] = r
                        else:
                            seen.pop(r.key, None)
                        new = [x for x in seen.values() if x.router_id == r5_id and x.reachable and x.metric < 16384]
                        if not new:
                            continue
                        best = min(new, key=lambda x: x.metric)
                        others = [x for x in seen.values() if x is not best and x.reachable and x.metric < 16384]
                        if args.rule == "first" or all(x.metric > best.metric for x in others):
                            break
            else:
                time.sleep(args.wait)
            t0 = time.time()
            tb.exec("r3", ["ip", "route", "del", f"{ip}/32", "proto", proto])
            time.sleep(2)
            out = {}
            for r, p in mons.items():
                p.terminate()
                out[r] = stamps(p.communicate()[0], ip)
            ms = lambda t: f"{(t - t0) * 1000:+.0f} ms"  # noqa: E731
            unreach = [t for t, l in out["r2"] if l.startswith("unreachable")]
            back = [t for t, l in out["r2"] if l.startswith(ip) and t > t0]
            r3new = [t for t, l in out["r3"] if l.startswith(ip) and "babel" in l and t > t0]
            anywhere = sorted(r for r in routers if any(l.startswith("unreachable") for _, l in out[r]))
            r2_gone = [t for t, l in out["r2"] if l.startswith(f"Deleted {ip} ") and t > t_move]
            if r2_gone and not unreach:  # deleted without an unreachable entry: no route at all
                anywhere.append(f"r2 (no route from {ms(r2_gone[0])})")
            summary.append((t0 - t_move, bool(anywhere)))
            print(f"run {i + 1}: withdrawn {(t0 - t_move) * 1000:.0f} ms after the move; "
                  f"r2 unreachable at {ms(unreach[0]) if unreach else '-'}, "
                  f"r3 learned route at {ms(r3new[0]) if r3new else '-'}, "
                  f"r2 route again at {ms(back[0]) if back else '-'}; "
                  f"unreachable installed on: {', '.join(anywhere) or 'none'}", flush=True)
            tb.exec("r5", ["ip", "route", "del", f"{ip}/32", "proto", "44"])
    finally:
        tb.down()
    bad = sum(1 for _, u in summary if u)
    waits = sorted(w for w, _ in summary)
    print(f"mode {args.mode}{' revisit' if args.revisit else ''}, smoothing "
          f"{args.smoothing if args.smoothing is not None else 'l3roam'}: {bad} of {len(summary)} runs installed "
          f"unreachable somewhere; withdrawal after the move median {waits[len(waits) // 2] * 1000:.0f} ms, "
          f"max {waits[-1] * 1000:.0f} ms; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
