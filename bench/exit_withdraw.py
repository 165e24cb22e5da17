"""Does a default route in the mesh break the APs' /32 withdrawals?  (babeld's flush_xroute() bug)

Three testbeds on the 5-router line (APs r1, r3, r5), one after the other:

- ``none``: no exit (the plain testbed);
- ``exit``: an exit on r2 (not an AP), redistributing its default route, as
  configs/testbed/apps-line5.yaml has it;
- ``ap-exit``: the forbidden case, made by hand: AP r3 itself also
  redistributes a default route (the topology refuses an exit on an AP).

In each, AP r3 installs a client /32 (protocol 44, as the agent does), waits
until r1 and r5 route to it, deletes it, and the bench records how long each
other router keeps a usable route to it (``ip monitor route``: until the
route is gone or ``unreachable``).  A correct withdrawal takes a fraction of
a second; a malformed one leaves the neighbours on the stale route until it
expires (seconds).

    python3 bench/exit_withdraw.py [--repeat 5] [--prefix l3r-xw-]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.testbed import topology  # noqa: E402
from l3roam.testbed.builder import Testbed  # noqa: E402
from l3roam.testbed.plan import EXIT_PROTO, StartBabeld, Step  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from babel_withdraw import YAML, stamps  # noqa: E402

BASE = YAML  # the demo's 5-router line, as in babel_withdraw.py
OTHERS = ("r1", "r2", "r4", "r5")


def make(case: str, prefix: str) -> Testbed:
    text = BASE + ("internet: {exits: [r2]}\n" if case == "exit" else "")
    tb = Testbed(topology.loads(text, prefix=prefix))
    if case == "ap-exit":  # what the topology refuses: an AP that also redistributes a default route
        steps = []
        for step in tb.steps:
            acts = []
            for act in step.do:
                if isinstance(act, StartBabeld) and act.directory.name == "r3":
                    line = f"redistribute proto {EXIT_PROTO} ip 0.0.0.0/0 eq 0 allow\n"
                    act = dataclasses.replace(act, config=act.config.replace(
                        "redistribute local deny\n", line + "redistribute local deny\n"))
                acts.append(act)
            steps.append(dataclasses.replace(step, do=tuple(acts)) if isinstance(step, Step) else step)
        tb.steps = steps
    return tb


def has_route(tb: Testbed, router: str, ip: str) -> bool:
    out = tb.exec(router, ["ip", "route", "show", f"{ip}/32"], check=False).stdout
    return bool(out.strip()) and not out.startswith("unreachable")


def run_case(case: str, prefix: str, repeat: int) -> dict[str, list[float]]:
    tb = make(case, prefix)
    held: dict[str, list[float]] = {r: [] for r in OTHERS}
    try:
        tb.up()
        tb.wait_converged(30)
        if case == "ap-exit":
            tb.exec("r3", ["ip", "route", "add", "default", "dev", "cell0", "proto", str(EXIT_PROTO)])
        time.sleep(1.0)
        for i in range(repeat):
            ip = f"10.99.7.{10 + i}"
            tb.exec("r3", ["ip", "route", "add", f"{ip}/32", "dev", "cell0", "proto", "44"])
            end = time.monotonic() + 15
            while time.monotonic() < end and not all(has_route(tb, r, ip) for r in OTHERS):
                time.sleep(0.05)
            mons = {r: subprocess.Popen(["ip", "netns", "exec", tb.ns(r), "ip", "-ts", "monitor", "route"],
                                        stdout=subprocess.PIPE, text=True) for r in OTHERS}
            time.sleep(0.5)
            t0 = time.time()
            tb.exec("r3", ["ip", "route", "del", f"{ip}/32", "proto", "44"])
            end = time.monotonic() + 12
            while time.monotonic() < end and any(has_route(tb, r, ip) for r in OTHERS):
                time.sleep(0.05)
            time.sleep(0.3)
            for r, p in mons.items():
                p.terminate()
                gone = min((t for t, text in stamps(p.communicate()[0], ip)
                            if text.startswith(("Deleted", "unreachable")) and t >= t0), default=None)
                held[r].append(round(((gone or time.time()) - t0) * 1000, 1))
    finally:
        tb.down()
    return held


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--prefix", default="l3r-xw-")
    args = ap.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print("ms from the deletion of a /32 at AP r3 until each router no longer routes to it "
          "(median, max over the repetitions)")
    print(f"{'case':10} " + " ".join(f"{r:>14}" for r in OTHERS))
    for case in ("none", "exit", "ap-exit"):
        held = run_case(case, args.prefix, args.repeat)
        cells = [f"{statistics.median(v):6.0f} {max(v):6.0f}" for v in (held[r] for r in OTHERS)]
        print(f"{case:10} " + " ".join(f"{c:>14}" for c in cells), flush=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
