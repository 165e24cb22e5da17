"""Start and stop one babeld, optionally inside a network namespace.

babeld daemonises itself (``-D``) so that a testbed or a node outlives the
command that started it; the pid file is the handle.  Files per instance
(all under one directory, so a clean-up can find them): ``babeld.conf``,
``babeld.pid``, ``babeld.log``, ``babeld.state`` (``-S``: keeps the seqno
across restarts, else neighbours ignore a restarted node for a while) and the
read-write control socket ``babeld.sock``.

Side effects only; rendering lives in ``l3roam.babel.config``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from l3roam.errors import ExternalToolError
from l3roam.log import event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BabeldFiles:
    """Where one babeld instance keeps its files."""

    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "babeld.conf"

    @property
    def pid(self) -> Path:
        return self.directory / "babeld.pid"

    @property
    def log(self) -> Path:
        return self.directory / "babeld.log"

    @property
    def state(self) -> Path:
        return self.directory / "babeld.state"

    @property
    def socket(self) -> Path:
        return self.directory / "babeld.sock"


def _prepare(files: "BabeldFiles", config_text: str) -> None:
    """Refuse a babeld still running on these files; clear stale ones; write the config."""
    files.directory.mkdir(parents=True, exist_ok=True)
    old = read_pid(files.pid)
    if old is not None and pid_alive(old):
        raise ExternalToolError(f"babeld already running with pid {old} ({files.pid})")
    for stale in (files.pid, files.socket):
        stale.unlink(missing_ok=True)
    files.conf.write_text(config_text)

def netns_prefix(netns: str | None) -> list[str]:
    return ["ip", "netns", "exec", netns] if netns else []


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start(files: BabeldFiles, config_text: str, netns: str | None = None,
          exe: str = "babeld", timeout: float = 5.0) -> int:
    """Write the config, start a daemonised babeld and return its pid.

    Waits until the pid file and, when the config names one, the control
    socket exist.  Raises ExternalToolError with babeld's own words on failure.
    """
    _prepare(files, config_text)
    argv = netns_prefix(netns) + [exe, "-D", "-I", str(files.pid), "-L", str(files.log),
                                  "-S", str(files.state), "-c", str(files.conf)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise ExternalToolError(
            f"babeld failed to start in {netns or 'the root namespace'} (exit {out.returncode}): "
            f"{(out.stderr + out.stdout).strip() or _tail(files.log)}")
    socket_path = _socket_path(config_text)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = read_pid(files.pid)
        if pid is not None and (socket_path is None or socket_path.exists()):
            event(log, "babeld_started", netns=netns or "-", pid=pid, conf=files.conf)
            return pid
        time.sleep(0.01)
    raise ExternalToolError(f"babeld in {netns or 'the root namespace'} did not come up: {_tail(files.log)}")


def stop(files: BabeldFiles, timeout: float = 3.0) -> bool:
    """SIGTERM babeld (it retracts its routes and removes them from the kernel), then SIGKILL.

    Returns True when a process was stopped; tolerates one that is already gone.
    """
    pid = read_pid(files.pid)
    if pid is None or not pid_alive(pid) or not _is_babeld(pid):
        files.pid.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        event(log, "babeld_killed", level=logging.WARNING, pid=pid)
    files.pid.unlink(missing_ok=True)
    files.socket.unlink(missing_ok=True)
    event(log, "babeld_stopped", pid=pid)
    return True


def _socket_path(config_text: str) -> Path | None:
    """The control socket a config asks for (``local-path`` or ``local-path-readwrite``)."""
    for line in config_text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("local-path", "local-path-readwrite"):
            return Path(words[1])
    return None


def _is_babeld(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "babeld"
    except OSError:
        return False


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text().splitlines()[-lines:]) or "(empty log)"
    except OSError:
        return "(no log)"


def start_many(items: list[tuple[BabeldFiles, str, str | None]], exe: str = "babeld",
               timeout: float = 30.0, parallel: int = 32) -> list[int]:
    """Start many babelds (files, config, netns) at once; their pids, in order.

    Each is entered with ``nsenter --net`` (no mount namespace, unlike ``ip
    netns exec``) and daemonises itself; up to ``parallel`` starters run at
    a time, then every pid file and control socket is awaited together.
    Raises ExternalToolError naming the first that failed.
    """
    running: list[tuple[BabeldFiles, str | None, subprocess.Popen]] = []

    def reap(limit: int) -> None:
        while len(running) > limit:
            files, netns, proc = running.pop(0)
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise ExternalToolError(f"babeld in {netns} did not daemonise within {timeout} s") from None
            if proc.returncode != 0:
                raise ExternalToolError(f"babeld failed to start in {netns or 'the root namespace'} "
                                        f"(exit {proc.returncode}): {err.strip() or _tail(files.log)}")

    for files, config_text, netns in items:
        _prepare(files, config_text)
        enter = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
        argv = enter + [exe, "-D", "-I", str(files.pid), "-L", str(files.log), "-S", str(files.state),
                        "-c", str(files.conf)]
        running.append((files, netns, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                        text=True)))
        reap(parallel)
    reap(0)
    pids = []
    deadline = time.monotonic() + timeout
    for files, config_text, netns in items:
        socket_path = _socket_path(config_text)
        while True:
            pid = read_pid(files.pid)
            if pid is not None and (socket_path is None or socket_path.exists()):
                pids.append(pid)
                break
            if time.monotonic() > deadline:
                raise ExternalToolError(f"babeld in {netns or 'the root namespace'} did not come up: "
                                        f"{_tail(files.log)}")
            time.sleep(0.01)
    event(log, "babelds_started", count=len(pids))
    return pids


def kill_many(all_files: list[BabeldFiles]) -> int:
    """SIGKILL many babelds at once (teardown: their namespaces and routes go anyway); how many."""
    killed = []
    for files in all_files:
        pid = read_pid(files.pid)
        if pid is not None and pid_alive(pid) and _is_babeld(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        files.pid.unlink(missing_ok=True)
        files.socket.unlink(missing_ok=True)
    deadline = time.monotonic() + 5
    while any(pid_alive(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(killed)
