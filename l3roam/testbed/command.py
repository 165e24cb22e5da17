"""``l3roam testbed up FILE`` / ``down FILE`` / ``clean`` / ``move FILE CLIENT AP``.

``up`` builds the mesh, starts babeld on every router, waits for babel to
converge and returns, leaving the testbed running; ``down`` tears it down;
``clean`` removes every namespace, link and process with the prefix that a
killed run left behind.
"""

from __future__ import annotations

import argparse
import logging
import sys

from l3roam.log import setup


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for name, help_text in (("up", "build the mesh and start babeld"), ("down", "tear the mesh down")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("file", help="testbed YAML (configs/testbed/*.yaml)")
        s.add_argument("--prefix", help="namespace prefix (overrides the file's)")
    s = sub.add_parser("clean", help="remove what a killed run left behind")
    s.add_argument("--prefix", default="l3r-", help="namespace prefix (default l3r-)")
    s = sub.add_parser("move", help="move a client's association to another AP")
    s.add_argument("file")
    s.add_argument("client")
    s.add_argument("ap")
    s.add_argument("--gap", type=float, default=0.0, help="seconds out of range between the APs")
    s.add_argument("--prefix")
    p.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    setup(args.log_level)
    from l3roam.testbed import clean, topology
    from l3roam.testbed.builder import Testbed

    if args.action == "clean":
        print(clean.clean(args.prefix))
        return 0
    tb = Testbed(topology.load(args.file, prefix=args.prefix))
    if args.action == "up":
        tb.up()
        seconds = tb.wait_converged()
        print(f"testbed {tb.prefix}: {len(tb.topo.routers)} routers, APs {', '.join(tb.topo.aps)}, "
              f"master on {tb.topo.master}, server on {tb.topo.server}; babel converged in {seconds:.1f} s")
        return 0
    if args.action == "down":
        tb.down()
        return 0
    if args.action == "move":
        from l3roam.testbed.air import Air

        rec = Air(tb).move(args.client, args.ap, gap=args.gap)
        print(f"{rec.client}: {rec.src} -> {rec.dst} in {(rec.t_end - rec.t_start) * 1000:.1f} ms")
        return 0
    logging.getLogger(__name__).error("unknown action %s", args.action)
    return 2


