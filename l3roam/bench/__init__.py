"""``l3roam bench WHAT``: benchmarks that print figures and ratios against a baseline
measured in the same run (never asserted as timings in tests)."""

from __future__ import annotations

import argparse

BENCHES = {
    "master": "l3roam.bench.master",
    "dhcp": "l3roam.bench.dhcp",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bench", metavar="WHAT")
    sub.required = True
    import importlib

    for name, module in BENCHES.items():
        mod = importlib.import_module(module)
        sp = sub.add_parser(name, help=mod.__doc__.strip().splitlines()[0])
        mod.add_arguments(sp)
        sp.set_defaults(_bench=mod)


def run(args: argparse.Namespace) -> int:
    return int(args._bench.run(args) or 0)
