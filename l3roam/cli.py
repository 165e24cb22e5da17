"""The ``l3roam`` command: a table of subcommands, each in its own module.

A subcommand module provides ``add_arguments(parser)`` and
``run(args) -> int``; it keeps heavy imports (pyroute2, scapy, matplotlib)
inside ``run`` so that ``l3roam --help`` stays fast and a missing optional
dependency of one subcommand does not break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from l3roam.errors import L3roamError

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("l3roam.testbed.demo", "the main job: a real DHCP client roams across an emulated babel mesh"),
    "master": ("l3roam.master.main", "run the lease master daemon"),
    "node": ("l3roam.node.main", "run the node agent on an access point"),
    "ctl": ("l3roam.master.ctl", "query a running master: leases, locations, metrics"),
    "bench": ("l3roam.bench", "benchmarks: master (lease operations/s and latency)"),
    "babel-config": ("l3roam.node.babel_command", "print the babeld.conf for a node (host routes only)"),
    "testbed": ("l3roam.testbed.command", "build, tear down or clean an emulated babel mesh"),
    "experiment": ("l3roam.experiment.command", "run an experiment file: roaming designs side by side, costs, scale"),
    "report": ("l3roam.experiment.report", "render the Markdown report and PNG plots of an experiment's output"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l3roam", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    mod = importlib.import_module(args._module)
    try:
        return int(mod.run(args) or 0)
    except L3roamError as exc:
        print(f"l3roam {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
