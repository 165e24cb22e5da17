"""``l3roam experiment FILE --out DIR``: run an experiment file, then write its report.

FILE is a ``configs/experiments/*.yaml`` (see ``l3roam.experiment.spec`` and
the comments in the shipped files).  ``--check`` validates the file and
exits.  Ctrl-C tears the current testbed down and keeps what was measured.

``--vm`` runs the scenarios and the client costs inside a user-mode Linux
guest (``l3roam.vm``); that happens by itself when a scenario needs a kernel
feature the host lacks (batman-adv).  All scenarios then share the guest's
kernel and its one CPU; the host-size ``scale`` part runs on the host
afterwards (a mesh of hundreds of babelds does not fit one CPU), and the
report says where each part ran.
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
    p.add_argument("--mesh", action="append", default=[],
                   help="client_scale: run only this mesh (repeatable; default: all)")
    p.add_argument("--no-report", action="store_true", help="do not render the report at the end")
    p.add_argument("--vm", action="store_true",
                   help="run in a user-mode Linux VM (automatic when a scenario needs batman-adv and the host lacks it)")
    p.add_argument("--no-scale", action="store_true", help="leave out the file's scale part")
    p.add_argument("--repetition", type=int, metavar="N",
                   help="run repetition N only and merge it into --out (application experiments)")


def needs_vm(spec) -> str | None:
    """Why this experiment cannot run on the host kernel (None: it can)."""
    from l3roam.experiment import designs

    if any(s.kind == "batman" for s in spec.scenarios):
        ok, why = designs.batman_available()
        if not ok:
            return f"batman-adv is not in this kernel ({why})"
    return None


def run_in_vm(args: argparse.Namespace, spec, why: str) -> int:
    import json
    import os
    import time

    from l3roam.experiment.runner import Progress
    from l3roam.vm import uml

    say = Progress()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    guest = uml.find_uml()  # a missing package is a clear error before anything starts
    say(f"running in a VM: {why}; {guest.description}")
    # the guest runs in the same working directory: the file name stays as given (no machine paths in meta.json)
    argv = ["experiment", str(args.file), "--out", str(out), "--no-report", "--no-scale"]
    if args.prefix:
        argv += ["--prefix", args.prefix]
    if args.repetition is not None:
        argv += ["--repetition", str(args.repetition)]
    rc = uml.run(uml.self_argv(argv), writable=[out], say=print)
    if rc != 0:
        say(f"the experiment in the VM failed (exit {rc}); results so far are in {out}")
        return rc
    if spec.scale.enabled and not args.no_scale:
        from l3roam.experiment.runner import Runner

        say("scale part on the host (it needs more than the VM's one CPU)")
        Runner(spec, Path(args.file), out, say).run_scale()
        meta_p = out / "meta.json"
        meta = json.loads(meta_p.read_text())
        meta["scale_ran_on"] = f"host: kernel {os.uname().release}, {os.cpu_count()} cores"
        meta["scale_finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        meta_p.write_text(json.dumps(meta, indent=1))
    return _report(args, out, say)


def _report(args: argparse.Namespace, out: Path, say) -> int:
    if args.no_report:
        return 0
    from l3roam.experiment.report import write_report

    try:
        path = write_report(out)
    except ImportError as exc:  # matplotlib is an optional extra; the raw results are complete
        say(f"no report: {exc} (pip install -e '.[report]', then: l3roam report {out})")
        return 1
    say(f"report: {path}")
    return 0


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
    from l3roam.vm.uml import in_vm

    why = "asked for (--vm)" if args.vm else needs_vm(spec)
    if why and not in_vm():
        return run_in_vm(args, spec, why)
    from l3roam.experiment.runner import Runner

    def interrupted(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    out = Path(args.out)
    if args.repetition is not None and (spec.apps is None or not 1 <= args.repetition <= spec.roams.repetitions):
        print(f"{args.file}: --repetition needs an apps: section and 1..{spec.roams.repetitions}")
        return 2
    unknown = set(args.mesh) - {m.name for m in spec.client_scale.meshes}
    if unknown:
        print(f"{args.file}: no client_scale mesh named {', '.join(sorted(unknown))}")
        return 2
    runner = Runner(spec, Path(args.file), out, repetition=args.repetition, meshes=tuple(args.mesh))
    try:
        runner.run_all(scale=not args.no_scale)
    except KeyboardInterrupt:
        runner.say("interrupted; the testbed is down, results so far are in " + str(out))
        return 130
    return _report(args, out, runner.say)
