"""``l3roam testbed up FILE`` / ``down FILE`` / ``clean`` / ``move FILE CLIENT AP`` / ``roam FILE``.

``up`` builds the mesh, starts babeld on every router, waits for babel to
converge and returns, leaving the testbed running; ``down`` tears it down;
``clean`` removes every namespace, link and process with the prefix that a
killed run left behind.  ``roam`` runs the file's roaming schedule on a
testbed that is up, with probes when ``--ip`` gives the client's address;
``--by-hand`` gives the client that address and moves its /32 itself at each
move (new AP installs, old AP deletes): the "babel alone" baseline, without
node agents.
"""

from __future__ import annotations

import argparse
import logging
import time

from l3roam.errors import ConfigError, ConfigProblem
from l3roam.log import setup


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for name, help_text in (("up", "build the mesh and start babeld"), ("down", "tear the mesh down")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("file", help="testbed YAML (configs/testbed/*.yaml)")
        s.add_argument("--prefix", help="namespace prefix (overrides the file's)")
        if name == "up":
            s.add_argument("--timeout", type=float, default=None,
                           help="seconds to wait for babel to converge (default: the file's converge_timeout, "
                                "else chosen by size)")
    s = sub.add_parser("clean", help="remove what a killed run left behind")
    s.add_argument("--prefix", default="l3r-", help="namespace prefix (default l3r-)")
    s = sub.add_parser("move", help="move a client's association to another AP")
    s.add_argument("file")
    s.add_argument("client")
    s.add_argument("ap")
    s.add_argument("--roam-model", choices=("carrier-kept", "carrier-lost"), default="carrier-kept",
                   help="carrier-kept: the client keeps carrier (FT roam); carrier-lost: it drops and returns")
    s.add_argument("--gap", type=float, default=0.0, help="carrier-lost: seconds out of range between the APs")
    s.add_argument("--prefix")
    s = sub.add_parser("roam", help="run the file's roaming schedule, optionally measured")
    s.add_argument("file")
    s.add_argument("--client", default=None, help="client to move (default: the first)")
    s.add_argument("--ip", help="the client's address: run probes and print per-roam figures")
    s.add_argument("--by-hand", action="store_true", help="set the address and move the /32 without agents")
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
        t = tb.topo
        print(f"testbed {tb.prefix}: {len(t.routers)} routers, {len(t.links)} links, APs {', '.join(t.aps)}; "
              f"{t.placement_text()}; babel hello {t.hello_interval:g} s, update {t.update_interval:g} s", flush=True)
        seconds = up_and_wait(tb, args.timeout, lambda line: print(line, flush=True))
        print(f"built in {tb.build_seconds:.1f} s; babel converged in {seconds:.1f} s")
        return 0
    if args.action == "down":
        tb.down()
        return 0
    if args.action == "move":
        from l3roam.testbed.air import Air

        with Air(tb, args.roam_model, args.gap) as air:
            rec = air.move(args.client, args.ap)
        print(f"{rec.client}: {rec.src} -> {rec.dst} in {(rec.t_end - rec.t_start) * 1000:.1f} ms")
        return 0
    if args.action == "roam":
        return _roam(tb, args)
    logging.getLogger(__name__).error("unknown action %s", args.action)
    return 2


def up_and_wait(tb, timeout: float | None, say) -> float:
    """Build and wait for babel; on any failure (not converged, Ctrl-C) tear everything down and re-raise.

    ``Testbed.up`` undoes its own steps when one fails; a convergence
    failure raises ConvergenceError, whose message is the short diagnosis.
    """
    tb.up()
    try:
        return tb.wait_converged(timeout, progress=say)
    except BaseException:
        tb.down()
        say(f"testbed {tb.prefix}: torn down again")
        raise


def _roam(tb, args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from l3roam.testbed.air import Air
    from l3roam.testbed.schedule import plan_moves

    client = tb.topo.client(args.client) if args.client else tb.topo.clients[0]
    r = tb.topo.spec.roaming
    air = Air(tb, r.model, r.gap)
    here = air.where(client.name) or client.first_ap
    moves = plan_moves(r.schedule, client.name, tb.topo.aps, here, r.count, r.interval, r.path, r.seed)
    on_move = None
    if args.by_hand:
        if not args.ip:
            raise ConfigError("<options>", [ConfigProblem("--by-hand", "needs --ip, the client's address")])
        addr = tb.topo.spec.addressing
        tb.exec(client.name, ["ip", "addr", "replace", f"{args.ip}/{addr.client_prefix.prefixlen}", "dev", "wlan0"])
        tb.exec(client.name, ["ip", "route", "replace", "default", "via", str(addr.gateway)])
        tb.exec(here, ["ip", "route", "replace", f"{args.ip}/32", "dev", "cell0", "proto",
                       str(tb.topo.spec.babel.client_proto)])
        time.sleep(2.0)  # let the mesh learn the first route

        def on_move(rec) -> None:
            proto = str(tb.topo.spec.babel.client_proto)
            tb.exec(rec.dst, ["ip", "route", "replace", f"{args.ip}/32", "dev", "cell0", "proto", proto])
            tb.exec(rec.src, ["ip", "route", "del", f"{args.ip}/32", "proto", proto], check=False)

    if args.ip and not args.by_hand:
        problem = _roam_preflight(tb, client.name, here, args.ip)
        if problem:
            raise ConfigError("<options>", [ConfigProblem("--ip", problem)])
    if not args.ip:
        with air:
            for rec in air.run(moves):
                print(f"{rec.client}: {rec.src} -> {rec.dst}", flush=True)
        return 0
    air.close()
    from l3roam.measure.table import format_table, summary
    from l3roam.testbed.session import run_roams

    with tempfile.TemporaryDirectory(prefix="l3roam-roam-") as tmp:
        result = run_roams(tb, client.name, args.ip, moves, Path(tmp), on_move=on_move, upstream=False,
                           tail=1.0, roam_model=r.model, gap=r.gap)
    print(format_table(result.down, [(m.src, m.dst) for m in result.moves]))
    print(summary(result.down))
    if result.tcp is not None:
        print(f"TCP alive: {result.tcp['alive']}, longest stall {result.tcp['longest_stall_ms']} ms"
              + (f" ({result.tcp['error']})" if result.tcp["error"] else ""))
    return 0 if result.tcp is None or result.tcp["alive"] else 1


def _roam_preflight(tb, client: str, ap: str, ip: str) -> str | None:
    """Why a measured roam cannot work on this testbed as it stands, or None.

    Without ``--by-hand`` the client needs its address from a node agent;
    on a bare testbed (``testbed up`` alone) no agent runs and the client has
    none, and the probes could only fail without saying why.
    """
    from l3roam.testbed.clean import pids_in_netns

    have = tb.client_address(client)
    if have == ip.split("/")[0]:
        return None
    agents = [pid for pid in pids_in_netns([tb.ns(ap)]) if _is_agent(pid)]
    if not agents:
        return (f"client {client} has {'address ' + have if have else 'no IPv4 address'} and no node agent runs "
                f"on its AP {ap} (a bare testbed from 'testbed up'): run the demo or a deployment first, "
                f"or add --by-hand to give {client} {ip} and move its /32 without agents")
    return (f"client {client} has {'address ' + have if have else 'no IPv4 address'}, not {ip}: "
            f"start its DHCP client first (a node agent runs on {ap})")


def _is_agent(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
    except OSError:
        return False
    return b"l3roam" in words and b"node" in words
