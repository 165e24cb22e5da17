"""Runtime code does not need scapy (it is a test and benchmark extra only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "scapy" or name.startswith("scapy."):
            raise ImportError("scapy is blocked: runtime code must not import it")
sys.meta_path.insert(0, Block())
import l3roam
names = [m.name for m in pkgutil.walk_packages(l3roam.__path__, "l3roam.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_runtime_module_imports_without_scapy():
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout) > 50


def test_scapy_is_an_extra_not_a_requirement():
    text = (ROOT / "setup.cfg").read_text()
    requires = text.split("install_requires =", 1)[1].split("\n\n", 1)[0]
    assert "scapy" not in requires and "prometheus_client" in requires
    extras = text.split("[options.extras_require]", 1)[1].split("\n[", 1)[0]
    assert "test =" in extras and "bench =" in extras and extras.count("scapy") == 2
