"""``l3roam babel-config``: print the babeld.conf for one node.

From the node agent's own file (``--config node.yaml``: its ``babel:``
section, the gateway prefix, ``route_protocol``, ``babel_socket``, the
loopback ``control_address`` and the hand-off SID; see
l3roam/node/babel_section.py), or from options alone; options override the
file.  Refuses (exit 2, every problem listed with file and key) what would
break roaming: a prefix that is not a host route (the flush_xroute() bug),
split horizon on a wired link.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import sys

from l3roam.babel.config import BabelSettings, render_checked, router_id_for
from l3roam.config import load_data
from l3roam.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="the node agent's YAML file (configs/node.yaml); its babel: section")
    p.add_argument("--router-id", help="MAC-48 or EUI-64; default: derived from --loopback")
    p.add_argument("--loopback", help="the node's loopback IPv4 address (redistributed as a /32)")
    p.add_argument("--locator", action="append", default=[], help="an own IPv6 /128 (locator or SID); repeatable")
    p.add_argument("--interface", "-i", action="append", default=[], metavar="NAME[:TYPE]",
                   help="mesh interface, TYPE wired (default), wireless or tunnel; repeatable")
    p.add_argument("--hello", type=float, help="hello interval in seconds for the interfaces given here")
    p.add_argument("--update", type=float, help="update interval in seconds for the interfaces given here")
    p.add_argument("--client-prefix", help="prefix of client /32s (default 10.99.0.0/16)")
    p.add_argument("--proto", type=int, help="kernel protocol number of client routes (default 44)")
    p.add_argument("--socket", help="path of babeld's read-write control socket")


def settings_from_args(args: argparse.Namespace) -> BabelSettings:
    data: dict = {}
    if args.config:
        from l3roam.node import config as nconfig  # the node owns its babel: section
        from l3roam.node.babel_section import problems_for, settings_for

        node = nconfig.load(args.config)  # checks the babel: section, if any
        problems = [] if node.babel is not None else problems_for(node, nested_checked=False)
        if problems:
            raise ConfigError(args.config, problems)
        data = dataclasses.asdict(settings_for(node)[0])
    if args.interface:
        ifaces = []
        for spec in args.interface:
            name, _, kind = spec.partition(":")
            item = {"name": name, "type": kind or "wired"}
            if args.hello is not None:
                item["hello_interval"] = args.hello
            if args.update is not None:
                item["update_interval"] = args.update
            ifaces.append(item)
        data["interfaces"] = ifaces
    own = list(data.get("own_prefixes", []))
    if args.loopback:
        own.append(f"{args.loopback}/32")
    own += [loc if "/" in loc else f"{loc}/128" for loc in args.locator]
    data["own_prefixes"] = own
    if args.router_id:
        data["router_id"] = args.router_id
    elif "router_id" not in data and args.loopback:
        try:
            data["router_id"] = router_id_for(ipaddress.IPv4Address(args.loopback))
        except ValueError:
            pass  # reported below as a bad own_prefixes entry
    if args.client_prefix:
        data["client_prefix"] = args.client_prefix
    if args.proto is not None:
        data["client_proto"] = args.proto
    if args.socket:
        data["local_path"] = args.socket
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    return load_data(BabelSettings, data, args.config or "<options>")


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    sys.stdout.write(render_checked(settings, args.config or "<options>"))
    return 0
