"""Remove whatever a testbed run with a given prefix left behind (also after SIGKILL).

Finds, by the project prefix only (never by a process name):
- processes inside a namespace ``<prefix>*`` (``ip netns pids``) and processes
  whose command line names the run directory ``/run/l3roam/<prefix>/``
  (babeld, agents, probes started by the testbed);
- namespaces ``<prefix>*``;
- links ``<prefix>*`` in the root namespace (the builder creates none there,
  but a foreign tool or an older run might have);
- the run directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from l3roam.babel.process import pid_alive
from l3roam.errors import L3roamError
from l3roam.log import event
from l3roam.testbed import hostlimits

log = logging.getLogger(__name__)

RUN_ROOT = Path("/run/l3roam")


@dataclass
class CleanReport:
    processes: list[int] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    run_dir: str | None = None

    def __str__(self) -> str:
        return (f"killed {len(self.processes)} process(es), deleted {len(self.namespaces)} namespace(s), "
                f"{len(self.links)} link(s)" + (f", removed {self.run_dir}" if self.run_dir else ""))


def list_netns(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.split()]
    return [n for n in names if n.startswith(prefix)]


def netns_pids(name: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def pids_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (not ourselves)."""
    found = []
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_pids(pids: list[int], grace: float = 1.0) -> list[int]:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL what is left; the pids that existed."""
    existed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            existed.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(pid_alive(p) for p in existed) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in existed:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return existed


def delete_netns(name: str) -> list[int]:
    """Kill the processes inside ``name`` and delete it; tolerate a missing namespace."""
    return delete_many([name])


def pids_in_netns(names: list[str]) -> list[int]:
    """Processes inside any of the named namespaces: one pass over /proc (as ``ip netns pids``, in bulk)."""
    inodes = set()
    for name in names:
        try:
            inodes.add(os.stat(f"/run/netns/{name}").st_ino)
        except OSError:
            continue
    if not inodes:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                found.append(int(entry))
        except OSError:
            continue
    return found


def delete_many(names: list[str]) -> list[int]:
    """Kill every process inside the namespaces, then delete them all in one ``ip -batch``."""
    killed = kill_pids(pids_in_netns(names))
    if names:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join(f"netns delete {n}\n" for n in names),
                       capture_output=True, text=True, timeout=300)
    return killed


def root_links(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@")[0]
            if name.startswith(prefix):
                names.append(name)
    return names


def clean(prefix: str, run_root: Path = RUN_ROOT) -> CleanReport:
    if len(prefix) < 3:
        raise ValueError("refusing to clean with a prefix shorter than 3 characters")
    report = CleanReport()
    run_dir = run_root / prefix.rstrip("-")
    report.processes += kill_pids(pids_mentioning(str(run_dir) + "/"))
    names = list_netns(prefix)
    report.processes += delete_many(names)
    report.namespaces += names
    for name in root_links(prefix):
        subprocess.run(["ip", "link", "delete", name], capture_output=True, text=True)
        report.links.append(name)
    if run_dir.exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        report.run_dir = str(run_dir)
    try:  # the neighbour-table limits this prefix raised (a killed run never restored them)
        hostlimits.release(prefix)
    except (OSError, L3roamError) as exc:
        event(log, "host_limits_not_restored", level=logging.WARNING, prefix=prefix, error=exc)
    event(log, "testbed_cleaned", prefix=prefix, processes=len(report.processes),
          namespaces=len(report.namespaces), links=len(report.links))
    return report
