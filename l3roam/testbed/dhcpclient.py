"""Real DHCP clients (busybox udhcpc, ISC dhclient) inside a namespace.

Each client gets a hook script that configures only its interface (address
and default route) and appends one state line per event to a file, and never
touches the host's /etc/resolv.conf.  The state line is written last, so a
reader that sees ``bound`` sees a configured interface.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc hook (l3roam testbed): this interface only, never /etc/resolv.conf
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr replace "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip -4 route replace default via "${router%% *}" dev "$interface" onlink ;;
esac
echo "$1 ip=$ip subnet=$subnet mask=$mask router=$router dns=$dns domain=$domain lease=$lease serverid=$serverid" >> "{state}"
exit 0
"""

DHCLIENT_SCRIPT = """#!/bin/sh
# dhclient hook (l3roam testbed): this interface only, never /etc/resolv.conf
case "$reason" in
  PREINIT) ip link set dev "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT)
    ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    [ -n "$new_routers" ] && ip -4 route replace default via "${new_routers%% *}" dev "$interface" onlink ;;
  RELEASE|EXPIRE|FAIL|STOP) ip -4 addr flush dev "$interface" ;;
esac
echo "$reason ip=$new_ip_address mask=$new_subnet_mask router=$new_routers dns=$new_domain_name_servers domain=$new_domain_name lease=$new_dhcp_lease_time serverid=$new_dhcp_server_identifier" >> "{state}"
exit 0
"""

DHCLIENT_CONF = """send host-name "{hostname}";
request subnet-mask, broadcast-address, routers, domain-name-servers, domain-name, interface-mtu;
timeout 30;
retry 1;
"""


@dataclass
class DhcpClient:
    kind: str  # udhcpc | dhclient
    netns: str
    ifname: str
    workdir: Path
    hostname: str
    proc: subprocess.Popen | None = None

    @property
    def state_file(self) -> Path:
        return self.workdir / f"{self.kind}-{self.netns}.state"

    def start(self) -> "DhcpClient":
        self.workdir.mkdir(parents=True, exist_ok=True)
        script = self.workdir / f"{self.kind}-{self.netns}.sh"
        if self.kind == "udhcpc":
            script.write_text(UDHCPC_SCRIPT.replace("{state}", str(self.state_file)))
            argv = ["udhcpc", "-f", "-i", self.ifname, "-s", str(script), "-t", "20", "-T", "1",
                    "-A", "1", "-R", "-x", f"hostname:{self.hostname}", "-O", "domain"]
        elif self.kind == "dhclient":
            script.write_text(DHCLIENT_SCRIPT.replace("{state}", str(self.state_file)))
            conf = self.workdir / f"dhclient-{self.netns}.conf"
            conf.write_text(DHCLIENT_CONF.format(hostname=self.hostname))
            argv = ["dhclient", "-d", "-4", "-sf", str(script), "-cf", str(conf),
                    "-lf", str(self.workdir / f"dhclient-{self.netns}.leases"),
                    "-pf", str(self.workdir / f"dhclient-{self.netns}.pid"), self.ifname]
        else:
            raise ValueError(f"unknown DHCP client {self.kind!r}")
        script.chmod(0o755)
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *argv],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        return self

    def lines(self) -> list[str]:
        try:
            return self.state_file.read_text().splitlines()
        except FileNotFoundError:
            return []

    def address(self) -> str | None:
        """The address of the last bound/renew event, if any."""
        for line in reversed(self.lines()):
            word = line.split()[0]
            if word in ("bound", "renew", "BOUND", "RENEW", "REBIND", "REBOOT"):
                for part in line.split():
                    if part.startswith("ip="):
                        return part[3:] or None
        return None

    def wait_bound(self, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ip = self.address()
            if ip:
                return ip
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.kind} in {self.netns} got no address in {timeout} s")

    def release(self) -> None:
        """Release the lease (a DHCPRELEASE goes out) and stop the client."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.kind == "udhcpc":
            os.killpg(self.proc.pid, signal.SIGUSR2)  # release now
            time.sleep(0.3)
            self.stop()
        else:
            subprocess.run(["ip", "netns", "exec", self.netns, "dhclient", "-r", "-sf",
                            str(self.workdir / f"{self.kind}-{self.netns}.sh"),
                            "-lf", str(self.workdir / f"dhclient-{self.netns}.leases"),
                            "-pf", str(self.workdir / f"dhclient-{self.netns}.pid"), self.ifname],
                           capture_output=True, timeout=30)
            self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
