#!/usr/bin/env python3
"""Recreate the golden DHCP captures in tests/data from real udhcpc and dhclient.

Run as root from the repository root:  PYTHONPATH=. python3 tests/data/capture_dhcp.py

It builds the two-namespace lab of tests/netns/dhcp_lab.py (a responder on
l3roam's codec and server engine with a fake master), runs busybox udhcpc
(DISCOVER, REQUEST selecting, SIGUSR1 renew left unanswered so
that a rebinding REQUEST follows, SIGUSR2 release) and ISC
dhclient (DISCOVER, REQUEST selecting, restart for INIT-REBOOT, dhclient -r
release), and writes the first message of each kind as the raw UDP payload
``<client>-<kind>.bin`` plus every frame the responder received as
``<client>.pcap``.  Both clients use hook scripts that only touch the lab
interface, never /etc/resolv.conf.  Namespaces are removed afterwards.
"""

from __future__ import annotations

import signal
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "netns"))
sys.path.insert(0, str(HERE.parent.parent))

from dhcp_lab import DhcpLab, state_lines, wait_for, write_pcap  # noqa: E402

from l3roam.proto import dhcp  # noqa: E402
from l3roam.proto.dhcp import MessageType  # noqa: E402
from l3roam.proto.udp_frame import parse_udp_frame  # noqa: E402

UDHCPC_MAC = "02:00:00:d4:00:01"
DHCLIENT_MAC = "02:00:00:d4:00:02"


def kind(msg: dhcp.DhcpMessage, dst_ip: IPv4Address) -> str:
    mtype = msg.message_type
    if mtype is MessageType.DHCPREQUEST:
        if msg.server_id is not None:
            return "request-selecting"
        if msg.requested_ip is not None and msg.ciaddr == IPv4Address(0):
            return "request-init-reboot"
        return "request-rebinding" if dst_ip == IPv4Address("255.255.255.255") else "request-renewing"
    return mtype.name.removeprefix("DHCP").lower() if mtype else "unknown"


def save(lab: DhcpLab, client: str, mac: str, out: Path) -> list[str]:
    frames, written = [], []
    for cap in lab.responder.captured:
        if cap.message is None or cap.message.mac != mac:
            continue
        frames.append((cap.when, cap.frame))
        udp = parse_udp_frame(cap.frame)
        name = f"{client}-{kind(cap.message, udp.dst_ip)}.bin"
        if name not in written:
            (out / name).write_bytes(udp.payload)
            written.append(name)
    write_pcap(out / f"{client}.pcap", frames)
    return written


def capture_udhcpc(lab: DhcpLab) -> None:
    lab.set_client_mac(UDHCPC_MAC)
    proc, state = lab.start_udhcpc()
    if not wait_for(lambda: any(s.startswith("bound") for s in state_lines(state)), 15):
        raise SystemExit(f"udhcpc did not bind: {state_lines(state)}")
    time.sleep(0.5)
    # Renew (SIGUSR1): the unicast REQUEST from RENEWING goes unanswered, so
    # after its 1 s timeout (-T 1) udhcpc broadcasts one from REBINDING.
    lab.responder.paused = True
    proc.send_signal(signal.SIGUSR1)
    renewing = wait_for(lambda: any(m.message_type is MessageType.DHCPREQUEST and m.ciaddr != IPv4Address(0)
                                    for m in lab.responder.messages()), 5)
    lab.responder.paused = False
    if not renewing:
        raise SystemExit("udhcpc sent no renewal")
    if not wait_for(lambda: any(s.startswith("renew") for s in state_lines(state)), 10):
        raise SystemExit(f"udhcpc did not renew: {state_lines(state)}")
    proc.send_signal(signal.SIGUSR2)  # release
    wait_for(lambda: any(m.message_type is MessageType.DHCPRELEASE for m in lab.responder.messages()), 5)
    proc.terminate()
    proc.wait(timeout=5)


def capture_dhclient(lab: DhcpLab) -> None:
    lab.set_client_mac(DHCLIENT_MAC)
    proc, state = lab.start_dhclient()
    if not wait_for(lambda: any(s.startswith("BOUND") for s in state_lines(state)), 20):
        raise SystemExit(f"dhclient did not bind: {state_lines(state)}")
    proc.terminate()  # exits without releasing; the lease file keeps the lease
    proc.wait(timeout=10)
    proc, state = lab.start_dhclient()  # INIT-REBOOT: REQUEST for the remembered address
    if not wait_for(lambda: any(s.startswith("REBOOT") for s in state_lines(state)), 20):
        raise SystemExit(f"dhclient did not reboot: {state_lines(state)}")
    lab.release_dhclient()
    wait_for(lambda: any(m.message_type is MessageType.DHCPRELEASE and m.mac == DHCLIENT_MAC
                         for m in lab.responder.messages()), 5)
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=10)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    with DhcpLab(tag="cap") as lab:
        capture_udhcpc(lab)
        capture_dhclient(lab)
        for client, mac in (("udhcpc", UDHCPC_MAC), ("dhclient", DHCLIENT_MAC)):
            print(client, " ".join(save(lab, client, mac, out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
