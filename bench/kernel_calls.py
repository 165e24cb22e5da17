"""What each kernel call on a roam's path costs, with few and with many client routes.

One namespace with a client bridge (``cell0``, a station port) and a mesh
interface; ``NetlinkKernel`` as the node agent uses it.  Per call, the median
and worst of ``--repeat`` rounds, first with no other routes, then with
``--routes`` /32s of protocol 44 in the table (a big AP).  The calls are the
arrival path's (route, binding, port mark) and the hand-off's (redirect,
removal).  Prints the machine's load next to the figures.

    python3 bench/kernel_calls.py [--routes 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.kernel.netlink import NetlinkKernel  # noqa: E402

NS = f"l3rb-kc{os.getpid() % 10000}"
IP, MAC, SID = IPv4Address("10.99.0.2"), "02:00:00:00:c0:01", IPv6Address("fc00:5::d4")


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


def setup(routes: int) -> None:
    sh(f"ip netns add {NS}")
    n = f"ip netns exec {NS} ip"
    sh(f"{n} link add cell0 type bridge && {n} link set cell0 up")
    sh(f"{n} link add sta0 type veth peer name sta0p && {n} link set sta0 master cell0 && {n} link set sta0 up")
    sh(f"{n} link add m-r2 type veth peer name m-x && {n} link set m-r2 up && {n} link set m-x up")
    sh(f"{n} -6 addr add fc00:9::1/64 dev m-r2")
    if routes:
        with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as f:
            for i in range(routes):
                f.write(f"route add 10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}/32 dev cell0 proto 44\n")
        sh(f"ip -n {NS} -batch {f.name}")
        os.unlink(f.name)


def rounds(k: NetlinkKernel, repeat: int) -> dict[str, list[float]]:
    calls = [
        ("port mark (arrival)", lambda: k.guard_port("sta0", 1)),
        ("route (arrival)", lambda: k.add_host_route(IP, "cell0", 44)),
        ("binding: neighbour + element", lambda: k.guard_bind("cell0", IP, MAC)),
        ("redirect, demoted (hand-off)", lambda: k.redirect_host_route(IP, SID, "m-r2", proto=45)),
        ("redirect, quiet", lambda: k.redirect_host_route(IP, SID, "m-r2", proto=None, metric=50)),
        ("remove demoted redirect", lambda: k.remove_redirect(IP, proto=45, metric=0)),
        ("unbind", lambda: k.guard_unbind("cell0", IP, MAC)),
        ("remove quiet redirect", lambda: k.remove_redirect(IP, metric=50)),
        ("port unmark (departure)", lambda: k.guard_port("sta0", None, old=1)),
    ]
    out: dict[str, list[float]] = {name: [] for name, _ in calls}
    for _ in range(repeat):
        for name, call in calls:
            t0 = time.perf_counter()
            call()
            out[name].append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--routes", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    results = {}
    for routes in (0, args.routes):
        setup(routes)
        try:
            k = NetlinkKernel(NS)
            try:
                k.guard_setup("cell0", IPv4Address("10.99.0.1"))
                results[routes] = rounds(k, args.repeat)
                k.guard_teardown()
            finally:
                k.close()
        finally:
            sh(f"ip netns del {NS}")
    print(f"{'call':32s} " + "  ".join(f"{r:>6d} routes: median / max ms" for r in results))
    for name in results[0]:
        cells = [f"{statistics.median(results[r][name]):8.2f} / {max(results[r][name]):7.2f}       "
                 for r in results]
        print(f"{name:32s} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
