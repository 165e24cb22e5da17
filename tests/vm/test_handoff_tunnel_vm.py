"""l3roam's hand-off where the kernel has no SRv6 lightweight tunnels (Debian's user-mode
Linux): the node kernel layer falls back to IPv4-in-IPv6 tunnels, checked with real
namespaces and pings inside the VM (tests/vm/tunnel_check.py)."""

import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vm, pytest.mark.root, pytest.mark.slow]

HERE = Path(__file__).resolve().parent


def test_handoff_falls_back_to_ipv6_tunnels_and_carries_packets():
    from l3roam.vm import uml

    lines: list[str] = []
    rc = uml.run([sys.executable, str(HERE / "tunnel_check.py")], cwd=str(HERE.parents[1]), say=lines.append)
    assert rc == 0, "\n".join(lines[-40:])
    assert "tunnel hand-off ok" in lines
