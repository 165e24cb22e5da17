"""``python3 -m l3roam.testbed up|down|clean|move …``: the testbed command without the full CLI."""

import argparse
import sys

from l3roam.errors import L3roamError
from l3roam.testbed import command

parser = argparse.ArgumentParser(prog="l3roam testbed", description=command.__doc__.split("\n")[0])
command.add_arguments(parser)
args = parser.parse_args()
try:
    sys.exit(command.run(args))
except L3roamError as exc:
    print(f"l3roam testbed: {exc}", file=sys.stderr)
    sys.exit(2)
