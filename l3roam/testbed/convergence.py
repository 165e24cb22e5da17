"""Wait for babel to converge on a testbed, and say why when it does not.

Polls every router's kernel routes through one rtnetlink socket per router
(l3roam.kernel.routedump) instead of a process per router and poll.  On a
timeout it gathers what l3roam.testbed.diagnose needs: the kernel log since
the build began (/dev/kmsg, opened by ``KernelLog`` before the build), the
machine's CPU use during the wait (/proc/stat, /proc/loadavg) and every
babeld's log.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from pathlib import Path

from l3roam.kernel.nsthread import in_each
from l3roam.kernel.routedump import RouteDumpSocket, babel_hosts
from l3roam.testbed import diagnose


class KernelLog:
    """Kernel log records written after this object was made (reads /dev/kmsg; empty where unreadable)."""

    def __init__(self, path: str = "/dev/kmsg"):
        self.fd: int | None = None
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError:
            self.close()

    def read(self) -> str:
        if self.fd is None:
            return ""
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten while we read: go on with the next
                    continue
                break
            if not rec:
                break
            text = rec.decode(errors="replace")
            out.append(text.split(";", 1)[1] if ";" in text else text)
        return "".join(out)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


class RouteWatcher:
    """One route-dump socket per router namespace."""

    def __init__(self, namespaces: dict[str, str]):
        """``namespaces``: router name -> namespace name."""
        by_ns = in_each(list(namespaces.values()), lambda _ns: RouteDumpSocket())
        self.sockets = {r: by_ns[ns] for r, ns in namespaces.items()}

    def reachable(self, router: str) -> set[str]:
        return babel_hosts(self.sockets[router].routes())

    def close(self) -> None:
        for s in self.sockets.values():
            s.close()


def wait(watcher: RouteWatcher, want: dict[str, set[str]], timeout: float, poll: float = 0.2,
         progress: Callable[[str], None] | None = None,
         every: float = 10.0) -> tuple[float | None, dict[str, set[str]], float]:
    """(seconds to converge or None, what is still missing, CPU busy fraction during the wait).

    Polls the routers still missing routes; the pause between polls is at
    least twice the last poll's duration, so the watcher never takes more
    than a third of a core from the mesh it watches.  ``progress`` gets a
    line every ``every`` seconds.
    """
    t0 = time.monotonic()
    c0 = cpu_times()
    pending = dict(want)
    total = sum(len(m) for m in want.values())
    said = t0
    while True:
        p0 = time.monotonic()
        pending = {r: m - watcher.reachable(r) for r, m in pending.items()}
        pending = {r: m for r, m in pending.items() if m}
        now = time.monotonic()
        elapsed = now - t0
        if not pending or elapsed > timeout:
            c1 = cpu_times()
            busy = (c1[0] - c0[0]) / max(1, c1[1] - c0[1])
            return (elapsed if not pending else None), pending, busy
        if progress is not None and now - said >= every:
            said = now
            missing = sum(len(m) for m in pending.values())
            progress(f"{elapsed:5.0f} s: {len(want) - len(pending)}/{len(want)} routers complete, "
                     f"{missing} of {total} routes missing, load {os.getloadavg()[0]:.1f}")
        time.sleep(max(poll, 2 * (now - p0)))


def diagnosis(missing: dict[str, set[str]], routers: int, timeout: float, busy: float,
              kernel_log: str, babeld_logs: dict[str, str]) -> diagnose.Diagnosis:
    causes = diagnose.kernel_log_causes(kernel_log)
    causes += diagnose.cpu_cause(busy, os.getloadavg()[0], os.cpu_count() or 1)
    causes += diagnose.babeld_errors(babeld_logs)
    return diagnose.Diagnosis(routers, diagnose.lacking_counts(missing), causes, timeout)
