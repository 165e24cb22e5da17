"""``l3roam demo``: an unmodified DHCP client roams across a babel mesh.

Builds the mesh of ``configs/testbed/line5.yaml`` (5 routers in a line, APs
two hops apart, master and traffic server on r2), starts the lease master and
a node agent on every AP, joins the client with a real udhcpc, runs a TCP
stream and a 100 packets/s UDP probe from the server to the client, roams
the client across the APs, and prints a table per roam: gap, packets lost,
TCP alive, and the client's address before and after.  Tears everything down
at the end, also on Ctrl-C or an error.  Exit status 1 if the address changed
or the TCP session broke.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TOPOLOGY = ROOT / "configs" / "testbed" / "line5.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", default=str(DEFAULT_TOPOLOGY), help="testbed YAML")
    p.add_argument("--roams", type=int, default=10, help="number of roams (default 10)")
    p.add_argument("--interval", type=float, default=3.0, help="seconds between roams")
    p.add_argument("--no-handoff", action="store_true",
                   help="babel convergence alone, without the SRv6 hand-off of in-flight packets")
    p.add_argument("--prefix", default="l3r-", help="namespace prefix (default l3r-)")
    p.add_argument("--json", help="also write the per-roam results to this file")
    p.add_argument("--keep-logs", metavar="DIR",
                   help="copy the run directory (daemon logs, probe files) here before teardown")
    p.add_argument("--vm", action="store_true",
                   help="run inside a user-mode Linux VM (a stock Debian kernel), for hosts whose kernel lacks a "
                        "feature; needs the Debian package user-mode-linux")


def run_in_vm(args: argparse.Namespace) -> int:
    """The same demo inside a user-mode Linux guest; --json and --keep-logs are written back to the host."""
    from l3roam.vm import uml

    argv = ["demo", "--topology", str(Path(args.topology).resolve()), "--roams", str(args.roams),
            "--interval", str(args.interval), "--prefix", args.prefix]
    writable = []
    if args.no_handoff:
        argv.append("--no-handoff")
    if args.json:
        j = Path(args.json).resolve()
        argv += ["--json", str(j)]
        writable.append(j.parent)
    if args.keep_logs:
        k = Path(args.keep_logs).resolve()
        argv += ["--keep-logs", str(k)]
        writable.append(k)
    say(f"running in a VM: {uml.find_uml().description}")
    return uml.run(uml.self_argv(argv), writable=writable, say=say)


def say(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    from l3roam.measure.analysis import from_probe_files, loss_runs
    from l3roam.measure.stats import percentile
    from l3roam.measure.table import format_table
    from l3roam.testbed import topology
    from l3roam.testbed.builder import Testbed
    from l3roam.testbed.deploy import Deployment
    from l3roam.testbed.dhcpclient import DhcpClient
    from l3roam.testbed.schedule import plan_moves
    from l3roam.testbed.session import probe_files, run_roams
    from l3roam.testbed.topology import CLIENT_IFNAME

    from l3roam.vm.uml import in_vm

    if args.vm and not in_vm():
        return run_in_vm(args)

    def interrupted(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started with SIGINT ignored (background)
    topo = topology.load(args.topology, prefix=args.prefix)
    client = topo.clients[0]
    hops = topo.hops(topo.aps[0])
    say(f"mesh: {len(topo.routers)} routers, APs {', '.join(topo.aps)} "
        f"(hops from {topo.aps[0]}: {', '.join(str(hops[a]) for a in topo.aps[1:])}), "
        f"master on {topo.master}, traffic server on {topo.server}")
    tb = Testbed(topo)
    dhcp = None
    t_start = time.monotonic()
    try:
        say("building namespaces and starting babeld on every router ...")
        tb.up()
        say(f"babel converged in {tb.wait_converged(30):.1f} s")
        Deployment(tb, handoff=not args.no_handoff).start()
        say(f"lease master on {topo.master}, node agents on {', '.join(topo.aps)}"
            f"{'' if not args.no_handoff else ' (hand-off off)'}")
        dhcp = DhcpClient("udhcpc", tb.ns(client.name), CLIENT_IFNAME, tb.run_dir / client.name,
                          "demo-phone").start()
        ip0 = dhcp.wait_bound(30)
        say(f"{client.name} ({client.mac}) got {ip0} from udhcpc at {client.first_ap}")
        tb.wait_reachable(topo.server, ip0, 20)
        moves = plan_moves("every", client.name, topo.aps, client.first_ap, args.roams, args.interval)
        addresses: list[str] = []

        def on_move(rec) -> None:
            addr = tb.client_address(client.name) or "-"
            addresses.append(addr)
            say(f"  roam {len(addresses):2}: {rec.src} -> {rec.dst}  (address {addr})")

        say(f"roaming {args.roams} times, every {args.interval:g} s, with a TCP stream and "
            "100 UDP probes/s from the server ...")
        result = run_roams(tb, client.name, ip0, moves, tb.run_dir / "session", on_move=on_move,
                           upstream=False, tail=1.0)
        ip1 = tb.client_address(client.name)
        tcp = result.tcp or {}
        alive = bool(tcp.get("alive"))
        failed_at = tcp.get("failed_at_ns")
        tcp_col = []
        for r in result.down:
            ok = alive or (failed_at is not None and r.window[1] * 1e9 < failed_at)
            tcp_col.append("yes" if ok else "no")
        before = [ip0] + addresses[:-1]
        sent, arrivals = from_probe_files(*probe_files(result.workdir, "down"))
        runs = [loss_runs(sent, arrivals, r.at, r.window) for r in result.down]
        when = [" ".join(f"+{start:.0f}({n})" for start, n in rr) or "-" for rr in runs]
        table = format_table(result.down, [(m.src, m.dst) for m in result.moves],
                             {"tcp alive": tcp_col, "addr before": before, "addr after": addresses,
                              "lost at ms (n)": when})
        say("")
        say(table)
        say("(lost at ms (n): runs of lost probes, when they began after the move and how many; a run "
            "about 1 s after a move is the old AP's babel withdrawal, docs/node.md)")
        gaps = [r.gap_ms for r in result.down]
        if gaps:
            say(f"\ngap median {percentile(gaps, 50):.0f} ms, p95 {percentile(gaps, 95):.0f} ms, "
                f"worst {max(gaps):.0f} ms; "
                f"{sum(r.lost for r in result.down)} of {result.sent_down} probes lost; "
                f"TCP {'alive' if alive else 'BROKEN: ' + str(tcp.get('error'))}, longest stall "
                f"{tcp.get('longest_stall_ms')} ms; address {ip0} -> {ip1}")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "roams": [r.__dict__ for r in result.down], "loss_runs": runs, "tcp": tcp,
                "ip_before": ip0,
                "ip_after": ip1, "moves": [m.__dict__ for m in result.moves],
                "handoff": not args.no_handoff}, default=str, indent=1))
        say(f"done in {time.monotonic() - t_start:.0f} s")
        changed = ip1 != ip0 or any(a != ip0 for a in addresses)
        if changed:
            say("FAIL: the client's address changed")
        if not alive:
            say("FAIL: the TCP session broke")
        return 1 if changed or not alive else 0
    except KeyboardInterrupt:
        say("interrupted: tearing down")
        return 130
    finally:
        if dhcp is not None:
            dhcp.stop()
        try:
            if args.keep_logs and tb.run_dir.exists():
                import shutil
                shutil.copytree(tb.run_dir, args.keep_logs, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.sock"))
        finally:
            tb.down()
        say("testbed removed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="l3roam demo")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
