"""``l3roam experiment FILE --out DIR``: run an experiment file, then write its report.

FILE is a ``configs/experiments/*.yaml`` (see ``l3roam.experiment.spec`` and
the comments in the shipped files).  ``--check`` validates the file and
exits.  Ctrl-C tears the current testbed down and keeps what was measured.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="experiment YAML (configs/experiments/*.yaml)")
    p.add_argument("--out", required=True, help="output directory for raw results and the report")
    p.add_argument("--prefix", help="namespace prefix (overrides the file's)")
    p.add_argument("--check", action="store_true", help="validate the file and exit")
    p.add_argument("--no-report", action="store_true", help="do not render the report at the end")
    p.add_argument("--repetition", type=int, metavar="N",
                   help="run repetition N only and merge it into --out (application experiments)")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from l3roam.config import load_file
    from l3roam.experiment.spec import ExperimentSpec

    spec = load_file(ExperimentSpec, args.file)
    if args.prefix:
        spec = dataclasses.replace(spec, prefix=args.prefix)
    if args.check:
        print(f"{args.file}: OK ({len(spec.scenarios)} scenarios x {spec.roams.repetitions} repetitions)")
        return 0
    from l3roam.experiment.runner import Runner

    def interrupted(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    out = Path(args.out)
    if args.repetition is not None and (spec.apps is None or not 1 <= args.repetition <= spec.roams.repetitions):
        print(f"{args.file}: --repetition needs an apps: section and 1..{spec.roams.repetitions}")
        return 2
    runner = Runner(spec, Path(args.file), out, repetition=args.repetition)
    try:
        runner.run_all()
    except KeyboardInterrupt:
        runner.say("interrupted; the testbed is down, results so far are in " + str(out))
        return 130
    if not args.no_report:
        from l3roam.experiment.report import write_report

        try:
            path = write_report(out)
        except ImportError as exc:  # matplotlib is an optional extra; the raw results are complete
            runner.say(f"no report: {exc} (pip install -e '.[report]', then: l3roam report {out})")
            return 1
        runner.say(f"report: {path}")
    return 0
