"""Carry out a testbed plan in bulk: namespaces, veth links, sysctls, tbf, babeld per router.

Every step of ``l3roam.testbed.plan`` is paired with its undo; ``up`` undoes
what it did when a step fails, ``down`` undoes everything (tolerating what is
already gone) and finishes with the prefix-wide sweep of ``clean``.

Bulk: the plan's ``ip -batch`` steps are a few processes for the whole mesh;
sysctls are written in-process from a thread that hops through the
namespaces; the babelds start in parallel (``nsenter``, not ``ip netns
exec``: no mount namespace per process); teardown kills every process of the
testbed in one pass (babeld with SIGKILL: its routes die with the namespace)
and deletes every namespace in one ``ip -batch``.  Before the build, the
kernel's global neighbour-table limits are raised for the mesh's size and
restored by ``down`` (l3roam.testbed.hostlimits).

The run directory ``/run/l3roam/<prefix>/`` holds one sub-directory per router
(babeld.conf, pid, log, state, control socket).
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from l3roam.babel import process as babeld
from l3roam.babel.version import require_babeld
from l3roam.errors import ConvergenceError, ExternalToolError
from l3roam.kernel.nsthread import in_each
from l3roam.kernel.sysctl import write_sysctl
from l3roam.log import event
from l3roam.testbed import clean as cleaner
from l3roam.testbed import hostlimits, sizing
from l3roam.testbed.plan import (
    AIR, Action, Cmd, DeleteNetns, StartBabeld, Step, StopBabeld, Sysctls, WaitLinkLocal, namespaces, ns_name, plan,
)
from l3roam.testbed.topology import Topology, CLIENT_IFNAME

log = logging.getLogger(__name__)

RUN_ROOT = Path("/run/l3roam")


def run_cmd(argv: tuple[str, ...] | list[str], tolerant: bool = False,
            stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=stdin)
    if out.returncode != 0 and not tolerant:
        raise ExternalToolError(f"{' '.join(argv)} failed (exit {out.returncode}): {out.stderr.strip()[:2000]}")
    return out


def perform_all(actions: list[Action]) -> None:
    """Carry out actions in order, batching neighbours of one kind (sysctls, babeld starts, undos)."""
    i = 0
    while i < len(actions):
        kind = type(actions[i])
        j = i
        while j < len(actions) and type(actions[j]) is kind:
            j += 1
        group = actions[i:j]
        if kind is Cmd:
            for a in group:
                run_cmd(a.argv, a.tolerant, a.stdin)  # type: ignore[union-attr]
        elif kind is Sysctls:
            items = {a.netns: a.items for a in group}  # type: ignore[union-attr]
            in_each(list(items), lambda ns: [write_sysctl(k, v) for k, v in items[ns]])
        elif kind is WaitLinkLocal:
            wait_link_local({a.netns: set(a.interfaces) for a in group})  # type: ignore[union-attr]
        elif kind is StartBabeld:
            babeld.start_many([(babeld.BabeldFiles(a.directory), a.config, a.netns) for a in group])  # type: ignore[union-attr]
        elif kind is StopBabeld:
            babeld.kill_many([babeld.BabeldFiles(a.directory) for a in group])  # type: ignore[union-attr]
        elif kind is DeleteNetns:
            cleaner.delete_many([a.name for a in group])  # type: ignore[union-attr]
        else:  # pragma: no cover - a programming error
            raise TypeError(kind)
        i = j


def _link_local_ifaces(_ns: str) -> set[str]:
    """Interfaces of the calling thread's namespace with an IPv6 link-local address."""
    out = set()
    with open("/proc/thread-self/net/if_inet6") as f:  # thread-self: this thread's namespace
        for line in f:
            words = line.split()
            if len(words) >= 6 and words[0].startswith("fe80"):
                out.add(words[5])
    return out


def wait_link_local(want: dict[str, set[str]], timeout: float = 20.0) -> None:
    """Until every namespace's listed interfaces have a link-local address (ExternalToolError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    pending = {ns: ifs for ns, ifs in want.items() if ifs}
    while pending:
        have = in_each(list(pending), _link_local_ifaces)
        pending = {ns: ifs - have[ns] for ns, ifs in pending.items() if ifs - have[ns]}
        if not pending:
            return
        if time.monotonic() > deadline:
            ns, ifs = next(iter(pending.items()))
            raise ExternalToolError(f"no IPv6 link-local address after {timeout:g} s on {len(pending)} namespace(s), "
                                    f"e.g. {ns}: {', '.join(sorted(ifs))}")
        time.sleep(0.05)


def perform(action: Action) -> None:
    perform_all([action])


class Testbed:
    """A built (or buildable) emulated mesh.  Use as a context manager in tests."""

    __test__ = False  # not a pytest class, despite its name

    def __init__(self, topo: Topology, run_root: Path = RUN_ROOT):
        self.topo = topo
        self.prefix = topo.spec.prefix
        self.run_dir = run_root / self.prefix.rstrip("-")
        self.steps: list[Step] = plan(topo, self.run_dir)
        self.done: list[Step] = []
        self.build_seconds: float | None = None
        self.kernel_log = None

    def ns(self, node: str) -> str:
        """Namespace of a router, a client or ``air``."""
        return ns_name(self.prefix, node)

    @property
    def air(self) -> str:
        return self.ns(AIR)

    def neigh_entries(self) -> int:
        return sizing.neigh_entries(len(self.topo.links), len(namespaces(self.topo)), len(self.topo.clients))

    def up(self) -> None:
        from l3roam.testbed.convergence import KernelLog

        require_babeld()
        existing = cleaner.list_netns(self.prefix)
        if existing:  # never tear down a running testbed because a second "up" collided with it
            raise ExternalToolError(
                f"namespaces with prefix {self.prefix} exist already ({', '.join(existing[:3])}...); "
                f"run 'l3roam testbed down' or 'l3roam testbed clean --prefix {self.prefix}' first")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.kernel_log = KernelLog()
        t0 = time.monotonic()
        try:
            if self.topo.spec.host_limits:
                degree = max((len(self.topo.neighbours(r.name)) for r in self.topo.routers), default=0)
                hostlimits.acquire(self.prefix, sizing.host_sysctls(self.neigh_entries(), degree))
            for step in self.steps:
                self.done.append(step)  # before its actions: a half-done step is undone too
            # the plan's steps run in bulk; a failure anywhere undoes all of them
            perform_all([a for step in self.steps for a in step.do])
        except BaseException:
            self.down()
            raise
        self.build_seconds = time.monotonic() - t0
        event(log, "testbed_up", prefix=self.prefix, routers=len(self.topo.routers),
              aps=",".join(self.topo.aps), seconds=f"{self.build_seconds:.2f}")

    def down(self) -> None:
        """Undo every step (done or not: ``down`` may run in a new process), then sweep the prefix."""
        undo = [a for step in reversed(self.done or self.steps) for a in step.undo]
        # kill first (babelds, then everything in the namespaces), then delete the namespaces
        undo.sort(key=lambda a: 0 if isinstance(a, StopBabeld) else 1 if isinstance(a, DeleteNetns) else 2)
        try:
            perform_all(undo)
        except ExternalToolError as exc:  # keep tearing down; the sweep catches the rest
            event(log, "teardown_problem", level=logging.WARNING, error=exc)
        self.done.clear()
        cleaner.clean(self.prefix)
        if self.kernel_log is not None:
            self.kernel_log.close()
        event(log, "testbed_down", prefix=self.prefix)

    def __enter__(self) -> "Testbed":
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def wait_converged(self, timeout: float | None = None, progress: Callable[[str], None] | None = None) -> float:
        """Wait until every router has a babel route to every other router's loopback; seconds taken.

        ``timeout`` defaults to the topology's (``converge_timeout``, by size).
        On a timeout: ConvergenceError with a short diagnosis (how many
        routers lack how many routes, the worst, known causes).
        """
        from l3roam.testbed import convergence

        timeout = timeout if timeout is not None else self.topo.converge_timeout
        want = {r.name: {str(o.loopback) for o in self.topo.routers if o.name != r.name} for r in self.topo.routers}
        watcher = convergence.RouteWatcher({r.name: self.ns(r.name) for r in self.topo.routers})
        try:
            seconds, missing, busy = convergence.wait(watcher, want, timeout, progress=progress)
        finally:
            watcher.close()
        if seconds is not None:
            return seconds
        logs = {}
        for r in self.topo.routers:
            p = babeld.BabeldFiles(self.run_dir / r.name).log
            try:
                logs[r.name] = p.read_text(errors="replace")[-200_000:]
            except OSError:
                logs[r.name] = ""
        klog = self.kernel_log.read() if self.kernel_log is not None else ""
        diag = convergence.diagnosis(missing, len(self.topo.routers), timeout, busy, klog, logs)
        event(log, "testbed_not_converged", level=logging.WARNING, prefix=self.prefix,
              routers_lacking=len(diag.lacking), routes_missing=diag.missing_routes,
              causes=",".join(c.kind for c in diag.causes) or "none")
        raise ConvergenceError(diag.summary(), diag)

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
