"""Which babeld is installed, and is it new enough.

babeld 1.12.1 (Debian 12) withdraws the wrong prefix when a redistributed route
is deleted (an index mix-up in check_xroutes, fixed in 1.12.2): a departed
client's /32 stayed in the mesh 80-97 s.  l3roam refuses it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from l3roam.errors import ExternalToolError

MINIMUM = (1, 12, 2)
_VERSION_RE = re.compile(r"babeld-(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"babeld-1.13.1"`` -> ``(1, 13, 1)``; None when the text names no version."""
    m = _VERSION_RE.search(text)
    if not m:
        return None
    major, minor, patch = m.groups()
    return int(major), int(minor), int(patch or 0)


def check_version(version: tuple[int, int, int]) -> None:
    if version < MINIMUM:
        have = ".".join(map(str, version))
        raise ExternalToolError(
            f"babeld {have} is too old: before 1.12.2 babeld withdraws the wrong prefix when a "
            f"client route is deleted, so departed clients stay routed to the old access point "
            f"for 80-97 s; install babeld >= 1.12.2 (scripts/setup.sh takes it from Debian 13)")


def installed_version(exe: str = "babeld") -> tuple[int, int, int]:
    """Run ``babeld -V`` and return its version; raise ExternalToolError if missing or unreadable."""
    path = shutil.which(exe)
    if path is None:
        raise ExternalToolError(f"{exe} is not installed (run scripts/setup.sh)")
    out = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10)
    # babeld -V prints "babeld-1.13.1" on stderr and exits 0
    version = parse_version(out.stdout + out.stderr)
    if out.returncode != 0 or version is None:
        raise ExternalToolError(f"cannot read the version of {path}: {(out.stdout + out.stderr).strip()!r}")
    return version


def require_babeld(exe: str = "babeld") -> tuple[int, int, int]:
    """Installed version, or ExternalToolError saying what to do."""
    version = installed_version(exe)
    check_version(version)
    return version
