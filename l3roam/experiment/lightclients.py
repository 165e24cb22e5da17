"""Lightweight clients: a lease from the master for each of many MACs, no namespace.

Run inside an AP's namespace (the master is reached over the mesh)::

    python3 -m l3roam.experiment.lightclients --master 10.255.0.2:4500 --key KEY \
        --node r1 --first 0 --count 100

prints one JSON object ``{"mac": "ip", ...}``.  The experiment then installs
each address as a /32 of protocol 44 on an AP, exactly the route an agent
installs for a real client, so babel carries it like one.  MACs are
``02:00:10:xx:xx:xx`` from the index.  Requests are pipelined (the client
library retries each until its deadline).
"""

from __future__ import annotations

import argparse
import json
import sys

from l3roam.master.client import MasterClient
from l3roam.proto.control import LeaseOp


def mac_of(index: int) -> str:
    return "02:00:10:" + ":".join(f"{b:02x}" for b in index.to_bytes(3, "big"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m l3roam.experiment.lightclients")
    p.add_argument("--master", required=True, help="host:port")
    p.add_argument("--key", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--batch", type=int, default=200)
    args = p.parse_args(argv)
    host, port = args.master.rsplit(":", 1)
    client = MasterClient(args.node, bytes.fromhex(args.key), (host, int(port)), deadline=10.0)
    got: dict[str, str] = {}
    failed = 0
    try:
        macs = [mac_of(i) for i in range(args.first, args.first + args.count)]
        for k in range(0, len(macs), args.batch):
            rids = set()
            for mac in macs[k:k + args.batch]:
                def done(ans, mac=mac) -> None:
                    nonlocal failed
                    if ans is not None and ans.ok and ans.ip is not None:
                        got[mac] = str(ans.ip)
                    else:
                        failed += 1
                rids.add(client.lease(LeaseOp.BIND, mac, done, lease_seconds=3600))
            client.wait(rids, timeout=30)
    finally:
        client.close()
    print(json.dumps(got))
    if failed:
        print(f"{failed} leases refused or unanswered", file=sys.stderr)
    return 0 if got else 1


if __name__ == "__main__":
    sys.exit(main())
