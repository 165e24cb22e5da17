"""Starting and stopping the probes' processes (side effects): wait for "ready", stop with SIGTERM."""

from __future__ import annotations

import signal
import subprocess

from l3roam.errors import ExternalToolError


def wait_ready(proc: subprocess.Popen, what: str) -> None:
    """Block until ``proc`` prints ``ready`` on its first line; kill it and raise otherwise."""
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        proc.wait()
        raise ExternalToolError(f"{what} did not start (said {line!r})")


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
