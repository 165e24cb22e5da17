"""Sysctl paths and checked writes.

``sysctl_path`` is pure.  ``write_sysctl``/``read_sysctl`` touch /proc/sys of
the network namespace of the *calling thread* (the kernel resolves
/proc/sys/net through the opener's namespace), which is why NetlinkKernel
runs them on its namespace thread.  No pyroute2 here.
"""

from __future__ import annotations

from pathlib import Path

from l3roam.errors import KernelError

PROC_SYS = Path("/proc/sys")


def sysctl_path(key: str, root: Path = PROC_SYS) -> Path:
    """``net.ipv4.conf.eth0.proxy_arp`` -> /proc/sys/net/ipv4/conf/eth0/proxy_arp.

    Dots separate levels; an interface name containing a dot (a VLAN such as
    ``eth0.10``) is written with a slash instead, as sysctl(8) does.
    """
    if not key or key.startswith((".", "/")) or ".." in key:
        raise KernelError(f"sysctl {key!r}", detail="not a sysctl key")
    parts = []
    for part in key.split("."):
        parts.append(part.replace("/", "."))
    return root.joinpath(*parts)


def read_sysctl(key: str, root: Path = PROC_SYS) -> str:
    path = sysctl_path(key, root)
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise KernelError(f"read sysctl {key}", exc.errno, exc.strerror or "") from None


def write_sysctl(key: str, value: str | int, root: Path = PROC_SYS) -> None:
    """Write ``value`` and read it back; KernelError names the key on any failure."""
    path = sysctl_path(key, root)
    text = str(value)
    try:
        path.write_text(text + "\n")
    except OSError as exc:
        raise KernelError(f"write sysctl {key}={text}", exc.errno, exc.strerror or "") from None
    got = read_sysctl(key, root)
    if got.split() != text.split():
        raise KernelError(f"write sysctl {key}={text}", detail=f"reads back {got!r}")


def sysctl_key(ifname: str) -> str:
    """Interface names with a dot are written with a slash in a sysctl key."""
    return ifname.replace(".", "/")


def gateway_sysctls(ifname: str) -> list[tuple[str, int]]:
    """Sysctls of a client-facing interface with the anycast gateway (docs/node-kernel.md)."""
    k = sysctl_key(ifname)
    return [
        ("net.ipv4.ip_forward", 1),
        # answer ARP for addresses routed through another interface ...
        (f"net.ipv4.conf.{k}.proxy_arp", 1),
        # ... and for those routed back out of this one (other clients here),
        # except the asker's own address (arp_fwd_pvlan skips sip == tip)
        (f"net.ipv4.conf.{k}.proxy_arp_pvlan", 1),
        # default: up to 0.8 s random delay for proxied answers (docs/node-kernel.md)
        (f"net.ipv4.neigh.{k}.proxy_delay", 0),
        # client-to-client traffic goes out where it came in: no ICMP redirect
        # (the kernel ORs all and the interface, so both must be 0)
        ("net.ipv4.conf.all.send_redirects", 0),
        (f"net.ipv4.conf.{k}.send_redirects", 0),
        # ARP requests to clients always come from the gateway address
        (f"net.ipv4.conf.{k}.arp_announce", 2),
    ]
