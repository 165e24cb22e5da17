"""Lightweight clients at one AP: leases through the master and checked /32 routes, no namespace.

Runs inside an AP's namespace for the whole experiment and takes one command
per line on stdin; each answer is one JSON line on stdout::

    add FIRST COUNT   lease MACs FIRST..FIRST+COUNT-1 (BIND from this node) and
                      install each address as a /32 of the client protocol
                      -> {"cmd": "add", "ok": {"index": "ip", ...}, "lease_failed": n,
                          "route_failed": n, "errors": [...]}
    burst FIRST COUNT like add, but all routes in one ``ip -force -batch -`` (as fast
                      as the kernel takes them: the burst that overruns babeld's
                      netlink socket); each failed line is counted from ip's errors
    move INDEX        BIND the MAC here (the master records the move and tells
                      the old AP's agent), install its /32 here
                      -> {"cmd": "move", "index": i, "ip": "...", "ok": true|false, "error": ...}
    del IP            delete the /32 here -> {"cmd": "del", "ip": ..., "ok": ..., "error": ...}

Every netlink request is acknowledged and checked (an ``ip -batch -force``
would skip failures silently), so a route that did not make it into the
kernel is counted, never assumed.  The driver talks to the master under a
node id of its own (``<ap>.light``): two senders under one id would trip
the master's replay guard, and the master's move notices for lightweight
clients then reach the driver (which acknowledges them), not the agent.  ``add`` pipelines the master requests
(``--window`` in flight).  MACs are ``02:00:10:xx:xx:xx`` from the index.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from ipaddress import IPv4Address

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from l3roam.master.client import MasterClient
from l3roam.proto.control import LeaseOp


_FAILED_LINE = re.compile(r"Command failed -:(\d+)")


def mac_of(index: int) -> str:
    return "02:00:10:" + ":".join(f"{b:02x}" for b in index.to_bytes(3, "big"))


class Driver:
    def __init__(self, node: str, key: bytes, master: tuple[str, int], ifname: str, proto: int,
                 window: int = 200, lease_seconds: int = 7200):
        self.node = node
        # its own node id: the AP's agent talks to the master as <ap> with its own request sequence,
        # and the master refuses a sender's sequence numbers that go backwards (replay guard)
        self.client = MasterClient(node, key, master, deadline=10.0)
        self.ipr = IPRoute()
        links = self.ipr.link_lookup(ifname=ifname)
        if not links:
            raise SystemExit(f"no interface {ifname} in this namespace")
        self.oif = links[0]
        self.ifname = ifname
        self.proto = proto
        self.window = window
        self.lease_seconds = lease_seconds

    def close(self) -> None:
        self.client.close()
        self.ipr.close()

    def _route(self, op: str, ip: str) -> str | None:
        try:
            if op == "replace":
                self.ipr.route("replace", dst=f"{ip}/32", oif=self.oif, proto=self.proto, scope=253)
            else:
                self.ipr.route("del", dst=f"{ip}/32", proto=self.proto, scope=253)
            return None
        except NetlinkError as exc:
            return f"route {op} {ip}: {exc}"

    def _leases(self, indexes: list[int]) -> tuple[dict[int, str], int]:
        got: dict[int, str] = {}
        failed = 0
        for k in range(0, len(indexes), self.window):
            rids = set()
            for i in indexes[k:k + self.window]:
                def done(ans, i=i) -> None:
                    nonlocal failed
                    if ans is not None and ans.ok and isinstance(ans.ip, IPv4Address):
                        got[i] = str(ans.ip)
                    else:
                        failed += 1
                rids.add(self.client.lease(LeaseOp.BIND, mac_of(i), done, lease_seconds=self.lease_seconds))
            self.client.wait(rids, timeout=30)
        return got, failed

    def add(self, first: int, count: int) -> dict:
        got, lease_failed = self._leases(list(range(first, first + count)))
        ok: dict[int, str] = {}
        errors = []
        for i, ip in got.items():
            err = self._route("replace", ip)
            if err is None:
                ok[i] = ip
            else:
                errors.append(err)
        return {"cmd": "add", "ok": ok, "lease_failed": lease_failed, "route_failed": len(errors),
                "errors": errors[:5]}

    def burst(self, first: int, count: int) -> dict:
        got, lease_failed = self._leases(list(range(first, first + count)))
        order = list(got.items())
        text = "".join(f"route replace {ip}/32 dev {self.ifname} proto {self.proto} scope link\n" for _, ip in order)
        out = subprocess.run(["ip", "-force", "-batch", "-"], input=text, capture_output=True, text=True)
        failed_lines = {int(x) for x in _FAILED_LINE.findall(out.stderr)}
        ok = {i: ip for n, (i, ip) in enumerate(order, 1) if n not in failed_lines}
        errors = out.stderr.strip().splitlines()[:5]
        if out.returncode != 0 and not failed_lines:  # ip itself failed: count nothing as installed
            ok, errors = {}, [f"ip -batch exited {out.returncode}: {out.stderr.strip()[:200]}"]
        return {"cmd": "add", "ok": ok, "lease_failed": lease_failed, "route_failed": len(got) - len(ok),
                "errors": errors}

    def move(self, index: int) -> dict:
        got, _ = self._leases([index])
        ip = got.get(index)
        if ip is None:
            return {"cmd": "move", "index": index, "ip": None, "ok": False, "error": "lease refused or unanswered"}
        err = self._route("replace", ip)
        return {"cmd": "move", "index": index, "ip": ip, "ok": err is None, "error": err}

    def delete(self, ip: str) -> dict:
        err = self._route("del", ip)
        return {"cmd": "del", "ip": ip, "ok": err is None, "error": err}

    def handle(self, line: str) -> dict:
        words = line.split()
        try:
            if words[0] == "add" and len(words) == 3:
                return self.add(int(words[1]), int(words[2]))
            if words[0] == "burst" and len(words) == 3:
                return self.burst(int(words[1]), int(words[2]))
            if words[0] == "move" and len(words) == 2:
                return self.move(int(words[1]))
            if words[0] == "del" and len(words) == 2:
                return self.delete(str(IPv4Address(words[1])))
        except (ValueError, IndexError) as exc:
            return {"cmd": "?", "ok": False, "error": f"bad command {line.strip()!r}: {exc}"}
        return {"cmd": "?", "ok": False, "error": f"bad command {line.strip()!r}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m l3roam.experiment.clientdriver")
    p.add_argument("--master", required=True, help="host:port")
    p.add_argument("--key", required=True)
    p.add_argument("--node", required=True, help="node id towards the master (not the AP agent's own)")
    p.add_argument("--ifname", default="cell0")
    p.add_argument("--proto", type=int, default=44)
    p.add_argument("--window", type=int, default=200)
    args = p.parse_args(argv)
    host, port = args.master.rsplit(":", 1)
    d = Driver(args.node, bytes.fromhex(args.key), (host, int(port)), args.ifname, args.proto, args.window)
    try:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(d.handle(line)), flush=True)
    finally:
        d.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
