"""scripts/apt_mirror.py: setup.sh takes the Debian mirror from the machine's
own apt sources, in either format, instead of a hard-coded host."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "apt_mirror.py"
_spec = importlib.util.spec_from_file_location("apt_mirror", SCRIPT)
apt_mirror = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apt_mirror)


def write(root: Path, name: str, text: str) -> None:
    path = root / "etc" / "apt" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_deb822_sources(tmp_path):
    write(tmp_path, "sources.list.d/debian.sources", """\
Types: deb
URIs: http://mirror.example.net/debian-security
Suites: bookworm-security
Components: main

# a disabled one first
Types: deb
URIs: http://disabled.example.net/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://mirror.example.net/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
""")
    write(tmp_path, "sources.list.d/l3roam-trixie.sources",
          "Types: deb\nURIs: http://other.example.org/debian\nSuites: trixie\nComponents: main\n")
    assert apt_mirror.mirror("bookworm", tmp_path) == "http://mirror.example.net/debian"


def test_one_line_sources_with_options_and_comments(tmp_path):
    write(tmp_path, "sources.list", """\
# deb http://commented.example.net/debian bookworm main
deb-src http://src.example.net/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://proxy.local:3142/debian bookworm main non-free-firmware
deb http://security.debian.org/debian-security bookworm-security main
""")
    assert apt_mirror.mirror("bookworm", tmp_path) == "http://proxy.local:3142/debian"


def test_updates_suite_is_the_fallback_and_nothing_is_an_error(tmp_path):
    write(tmp_path, "sources.list.d/x.list", "deb mirror+file:/etc/apt/mirrors/debian.list bookworm-updates main\n")
    assert apt_mirror.mirror("bookworm", tmp_path) == "mirror+file:/etc/apt/mirrors/debian.list"
    empty = tmp_path / "empty"
    (empty / "etc" / "apt").mkdir(parents=True)
    r = subprocess.run([sys.executable, str(SCRIPT), "bookworm", str(empty)], capture_output=True, text=True)
    assert r.returncode == 1 and "L3ROAM_DEBIAN_MIRROR" in r.stderr and r.stdout == ""


def test_this_machine_has_a_mirror_for_its_release():
    codename = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                    if "=" in line).get("VERSION_CODENAME", "").strip('"')
    r = subprocess.run([sys.executable, str(SCRIPT), codename], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "://" in r.stdout or r.stdout.startswith("mirror+")
