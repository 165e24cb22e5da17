"""The repository stands alone: no tracked text file cites a file outside it or
an absolute path of the machine it was written on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# built from pieces so that this file does not match itself
FORBIDDEN = re.compile("|".join([
    "/" + "work/",            # the development machine's checkout root
    r"\.\./" + "shared",      # a directory beside the repository
    "shared/" + "topologies",
    "LAB-" + "NOTES",         # notes that are not part of the repository
    "/" + r"home/\w", "/" + "root/", "/" + "mnt/",
]))


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # an exported tree without .git
        return [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts
                and "egg-info" not in str(p) and "__pycache__" not in p.parts]


def offending_lines(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue  # binary (figures, captures)
        for no, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            for m in FORBIDDEN.finditer(line):
                found.append(f"{path.relative_to(ROOT)}:{no}: {m.group(0)!r}")
    return found


def test_no_tracked_file_reaches_outside_the_repository():
    paths = tracked_files()
    assert len(paths) > 100  # the listing worked
    assert offending_lines(paths) == []


def test_the_check_finds_planted_paths():
    for bad in ("graph: ../../" + "shared/x.json", "from " + "shared/" + "topologies", "see " + "LAB-" + "NOTES",
                "cd /" + "work/main", "/" + "home/alice/x", "/" + "root/.cache"):
        assert FORBIDDEN.search(bad), bad
    for fine in ("configs/topologies/freifunk-ulm.json", "/run/l3roam/babeld.sock", "/tmp/results",
                 "/etc/l3roam/node.yaml", "the shared key"):
        assert not FORBIDDEN.search(fine), fine
