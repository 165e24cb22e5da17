"""Test-wide markers and the rules that skip them.

Tests marked ``netns``/``root``, ``babeld`` or ``dhcpclient`` need root and real
binaries.  Elsewhere they skip with the reason; under CI (``CI=true``) a missing
requirement is an error instead, so a CI run can never pass by skipping them.
A session-start sweep removes namespaces an earlier, killed test run left
(never one that a test run still going on this machine may own).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis: "ci" on CI (the same examples every run, so a red CI reproduces
# and never flickers; no example database in a fresh clone), "dev" elsewhere
# (new random examples each run: that is where the fuzzing explores).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"))

FUZZ_REPORT: list[str] = []  # lines for the terminal summary (tests/unit/test_fuzz_codecs.py)


@pytest.fixture
def fuzz_report() -> list[str]:
    return FUZZ_REPORT


def pytest_terminal_summary(terminalreporter) -> None:
    """Fuzz case counts, printed whatever -q/-s say (CI output shows them)."""
    if FUZZ_REPORT:
        terminalreporter.write_sep("=", "codec fuzzing")
        for line in FUZZ_REPORT:
            terminalreporter.write_line(line)

TEST_PREFIX = "l3rt"  # every namespace a test creates starts with this
# a narrower sweep for concurrent runs on one machine (each run sweeps only its own)
SWEEP_PREFIX = os.environ.get("L3ROAM_SWEEP_PREFIX", TEST_PREFIX)


def _babeld_problem() -> str | None:
    exe = shutil.which("babeld")
    if not exe:
        return "babeld is not installed (run scripts/setup.sh)"
    out = subprocess.run([exe, "-V"], capture_output=True, text=True)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    if not m:
        return "cannot read babeld's version"
    v = tuple(int(x or 0) for x in m.groups())
    if v < (1, 12, 2):
        return f"babeld {'.'.join(map(str, v))} is older than 1.12.2 (withdrawal bug)"
    return None


def _requirement_problems(item: pytest.Item) -> list[str]:
    problems = []
    needs_root = any(item.iter_markers(name=n) for n in ("root", "netns", "babeld", "dhcpclient"))
    if needs_root and os.geteuid() != 0:
        problems.append("needs root")
    if any(item.iter_markers(name="netns")) and not shutil.which("ip"):
        problems.append("needs iproute2 (ip)")
    if any(item.iter_markers(name="babeld")):
        p = _babeld_problem()
        if p:
            problems.append(p)
    if any(item.iter_markers(name="vm")):
        from l3roam.errors import VmUnavailable
        from l3roam.vm.uml import find_uml

        try:
            find_uml()
        except VmUnavailable as exc:
            problems.append(str(exc))
    if any(item.iter_markers(name="systemd")) and not shutil.which("systemd-analyze"):
        problems.append("systemd-analyze is not installed (run scripts/setup.sh)")
    if any(item.iter_markers(name="etcd")) and not shutil.which("etcd"):
        problems.append("etcd is not installed (Debian: etcd-server; run scripts/setup.sh)")
    if any(item.iter_markers(name="dhcpclient")):
        for exe in ("udhcpc", "dhclient"):
            if not shutil.which(exe):
                problems.append(f"{exe} is not installed")
    return problems


def pytest_runtest_setup(item: pytest.Item) -> None:
    problems = _requirement_problems(item)
    if not problems:
        return
    reason = "; ".join(problems)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run this test but: {reason}", pytrace=False)
    pytest.skip(reason)


def _other_sessions_started() -> float | None:
    """When the earliest other running pytest session started (epoch s), None if none runs.

    Several test runs may share a machine (CI never does, developers do); a
    namespace created after another live session started may be that session's
    and is left alone.
    """
    try:
        btime = next(float(l.split()[1]) for l in open("/proc/stat") if l.startswith("btime "))
    except (OSError, StopIteration):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    earliest = None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) in (os.getpid(), os.getppid()):
            continue
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if not any(a.endswith(b"pytest") or b"pytest/" in a or a == b"pytest" for a in argv[:3]):
            continue
        started = btime + int(stat.rsplit(")", 1)[1].split()[19]) / hz
        earliest = started if earliest is None else min(earliest, started)
    return earliest


def _sweep_namespaces() -> None:
    """Remove namespaces (and their processes) that a killed earlier run left behind."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return
    other = _other_sessions_started()
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(SWEEP_PREFIX):
            continue
        try:
            created = os.stat(f"/run/netns/{name}").st_mtime
        except OSError:
            continue
        if other is not None and created >= other - 1:
            continue  # may belong to a test run that is still going
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            subprocess.run(["kill", "-9", pid], capture_output=True)
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    _sweep_namespaces()
