"""``l3roam ctl``: ask a running master about leases, locations and metrics."""

from __future__ import annotations

import argparse
import datetime
import sys
import urllib.request
from ipaddress import IPv4Address


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the master's YAML file (for address and key)")
    p.add_argument("--master", help="host:port of the master (default: its listen address)")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    sub.required = True
    sub.add_parser("leases", help="every lease with the node serving the client")
    sub.add_parser("locations", help="clients with a known node")
    look = sub.add_parser("lookup", help="one MAC or IP")
    look.add_argument("target", help="MAC (aa:bb:..) or IPv4 address")
    sub.add_parser("metrics", help="the Prometheus metrics")


def _row(e: dict) -> str:
    from l3roam.core.lease import LeaseState
    from l3roam.proto.control import Field

    exp = datetime.datetime.fromtimestamp(int(e.get(Field.EXPIRES, 0)) / 1000).strftime("%F %T")
    state = LeaseState(int(e.get(Field.STATE, 0))).name.lower() if e.get(Field.STATE) else "-"
    return (f"{e.get(Field.MAC)}  {str(e.get(Field.IP)):15}  {state:8}  {exp}  "
            f"node={e.get(Field.NODE) or '-'} seq={e.get(Field.SEQ, '-')} "
            f"host={e.get(Field.HOSTNAME) or '-'}")


def run(args: argparse.Namespace) -> int:
    from l3roam.config import Endpoint, MacAddress
    from l3roam.master import config as mconfig
    from l3roam.master.client import MasterClient
    from l3roam.proto.control import Field, MessageType

    cfg = mconfig.load(args.config)
    try:
        target = Endpoint(args.master) if args.master else cfg.listen
    except ValueError:
        print("--master must be host:port", file=sys.stderr)
        return 2
    host, port = target.host, target.port
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    if args.what == "metrics":
        if not cfg.metrics_listen:
            print("metrics are off in this configuration (metrics_listen: null)", file=sys.stderr)
            return 2
        mh, mp = cfg.metrics_listen.host, cfg.metrics_listen.port
        mh = "127.0.0.1" if mh == "0.0.0.0" else mh
        with urllib.request.urlopen(f"http://{mh}:{mp}/metrics", timeout=5) as r:
            sys.stdout.write(r.read().decode())
        return 0
    client = MasterClient("ctl", cfg.tool_key(), (host, port))
    try:
        if args.what == "lookup":
            fields: dict = {}
            try:
                fields[Field.IP] = IPv4Address(args.target)
            except ValueError:
                fields[Field.MAC] = str(MacAddress(args.target))
            ans = client.call(MessageType.QUERY, fields)
            if not ans.ok:
                print(f"{args.target}: {ans.reason}")
                return 1
            print(_row(ans.fields))
            return 0
        offset, total = 0, None
        while total is None or offset < total:
            ans = client.call(MessageType.LIST, {Field.OFFSET: offset, Field.COUNT: 40})
            total = int(ans.fields.get(Field.TOTAL, 0))
            entries = ans.fields.get(Field.ENTRY, [])
            if not entries:
                break
            for e in entries:
                if args.what == "locations" and not e.get(Field.NODE):
                    continue
                print(_row(e))
            offset += len(entries)
        return 0
    finally:
        client.close()
