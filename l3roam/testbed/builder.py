"""Carry out a testbed plan: namespaces, veth links, sysctls, tbf, babeld per router.

Every step of ``l3roam.testbed.plan`` is paired with its undo; ``up`` undoes
what it did when a step fails, ``down`` undoes everything (tolerating what is
already gone) and finishes with the prefix-wide sweep of ``clean``.

The run directory ``/run/l3roam/<prefix>/`` holds one sub-directory per router
(babeld.conf, pid, log, state, control socket).
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path

from l3roam.babel import process as babeld
from l3roam.babel.version import require_babeld
from l3roam.errors import ExternalToolError
from l3roam.log import event
from l3roam.testbed import clean as cleaner
from l3roam.testbed.plan import (
    AIR, Action, Cmd, DeleteNetns, StartBabeld, Step, StopBabeld, ns_name, plan,
)
from l3roam.testbed.topology import Topology, CLIENT_IFNAME

log = logging.getLogger(__name__)

RUN_ROOT = Path("/run/l3roam")


def run_cmd(argv: tuple[str, ...] | list[str], tolerant: bool = False,
            stdin: str | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, input=stdin)
    if out.returncode != 0 and not tolerant:
        raise ExternalToolError(f"{' '.join(argv)} failed (exit {out.returncode}): {out.stderr.strip()}")
    return out


def perform(action: Action) -> None:
    if isinstance(action, Cmd):
        run_cmd(action.argv, action.tolerant, action.stdin)
    elif isinstance(action, DeleteNetns):
        cleaner.delete_netns(action.name)
    elif isinstance(action, StartBabeld):
        babeld.start(babeld.BabeldFiles(action.directory), action.config, netns=action.netns)
    elif isinstance(action, StopBabeld):
        babeld.stop(babeld.BabeldFiles(action.directory))
    else:  # pragma: no cover - a programming error
        raise TypeError(action)


class Testbed:
    """A built (or buildable) emulated mesh.  Use as a context manager in tests."""

    __test__ = False  # not a pytest class, despite its name

    def __init__(self, topo: Topology, run_root: Path = RUN_ROOT):
        self.topo = topo
        self.prefix = topo.spec.prefix
        self.run_dir = run_root / self.prefix.rstrip("-")
        self.steps: list[Step] = plan(topo, self.run_dir)
        self.done: list[Step] = []

    def ns(self, node: str) -> str:
        """Namespace of a router, a client or ``air``."""
        return ns_name(self.prefix, node)

    @property
    def air(self) -> str:
        return self.ns(AIR)

    def up(self) -> None:
        require_babeld()
        existing = cleaner.list_netns(self.prefix)
        if existing:  # never tear down a running testbed because a second "up" collided with it
            raise ExternalToolError(
                f"namespaces with prefix {self.prefix} exist already ({', '.join(existing[:3])}...); "
                f"run 'l3roam testbed down' or 'l3roam testbed clean --prefix {self.prefix}' first")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        try:
            for step in self.steps:
                self.done.append(step)  # before its actions: a half-done step is undone too
                for action in step.do:
                    perform(action)
        except BaseException:
            self.down()
            raise
        event(log, "testbed_up", prefix=self.prefix, routers=len(self.topo.routers),
              aps=",".join(self.topo.aps), seconds=f"{time.monotonic() - t0:.2f}")

    def down(self) -> None:
        """Undo every step (done or not: ``down`` may run in a new process), then sweep the prefix."""
        for step in reversed(self.done or self.steps):
            for action in step.undo:
                try:
                    perform(action)
                except ExternalToolError as exc:  # keep tearing down; the sweep catches the rest
                    event(log, "teardown_problem", level=logging.WARNING, step=step.what, error=exc)
        self.done.clear()
        cleaner.clean(self.prefix)
        event(log, "testbed_down", prefix=self.prefix)

    def __enter__(self) -> "Testbed":
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ---------------------------------------------------------------- helpers for runs and tests

    def exec(self, node: str, argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        out = subprocess.run(["ip", "netns", "exec", self.ns(node), *argv],
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise ExternalToolError(f"{' '.join(argv)} in {self.ns(node)} failed: {out.stderr.strip()}")
        return out

    def popen(self, node: str, argv: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.ns(node), *argv], **kwargs)

    def spawn(self, node: str, name: str, argv: list[str]) -> subprocess.Popen:
        """Start a long-running process (master, agent) in ``node``'s namespace.

        Its output goes to ``<run dir>/<node>/<name>.log``; ``down`` and
        ``clean`` kill it with the namespace.
        """
        d = self.run_dir / node
        d.mkdir(parents=True, exist_ok=True)
        logf = open(d / f"{name}.log", "ab")
        try:
            return subprocess.Popen(["ip", "netns", "exec", self.ns(node), *argv], stdout=logf,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            logf.close()

    def routes(self, node: str, proto: str | None = None) -> list[dict]:
        argv = ["ip", "-j", "-n", self.ns(node), "route", "show"]
        if proto:
            argv += ["proto", proto]
        return json.loads(run_cmd(argv).stdout or "[]")

    def reachable_loopbacks(self, node: str) -> set[str]:
        """Loopbacks that babel routes to from ``node`` (``unreachable`` hold-down entries excluded)."""
        return {r["dst"] for r in self.routes(node, "babel") if r.get("type", "unicast") == "unicast"}

    def wait_converged(self, timeout: float = 20.0) -> float:
        """Wait until every router has a babel route to every other router's loopback; seconds taken."""
        t0 = time.monotonic()
        want = {r.name: {str(o.loopback) for o in self.topo.routers if o.name != r.name} for r in self.topo.routers}
        while True:
            missing = {n: w - self.reachable_loopbacks(n) for n, w in want.items()}
            missing = {n: m for n, m in missing.items() if m}
            if not missing:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise ExternalToolError(f"babel did not converge in {timeout} s; missing routes: {missing}")
            time.sleep(0.1)

    def client_address(self, client: str) -> str | None:
        """The IPv4 address on a client's radio interface, if any."""
        out = self.exec(client, ["ip", "-4", "-j", "addr", "show", "dev", CLIENT_IFNAME], check=False)
        try:
            for link in json.loads(out.stdout or "[]"):
                for a in link.get("addr_info", []):
                    return a["local"]
        except ValueError:
            return None
        return None

    def wait_reachable(self, node: str, ip: str, timeout: float = 30.0) -> float:
        """Seconds until ``node`` pings ``ip`` (a client's /32 known across the mesh)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.exec(node, ["ping", "-c", "1", "-W", "0.3", ip], check=False).returncode == 0:
                return time.monotonic() - t0
        raise ExternalToolError(f"{ip} not reachable from {node} within {timeout} s")

    def babeld_socket(self, router: str) -> Path:
        return babeld.BabeldFiles(self.run_dir / router).socket
