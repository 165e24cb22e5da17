"""What the node agent changed in the kernel, and how a stop takes it back.

The agent records, before it touches anything, the client interface as it was
(MAC, up or down, IPv4 addresses) and every sysctl it is going to write.  A
stop (``undo``) then removes, in this order: the SRv6 redirects of clients
being handed off, every client /32 of the agent's protocol (babel withdraws
them), the hand-off SID, the anycast gateway (address, proxy ARP, MAC, link
state), and writes each recorded sysctl back.  Each step is done even when an
earlier one fails; failures are logged and returned.

A restart that should keep clients reachable (``systemctl reload``, SIGHUP:
docs/deploy.md) skips ``undo``: the next start reconciles the routes with the
master instead.  Side effects only through the ``Kernel`` seam.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from l3roam.core import roaming as R
from l3roam.errors import L3roamError
from l3roam.kernel.interface import LinkInfo
from l3roam.kernel.sysctl import gateway_sysctls
from l3roam.log import event

log = logging.getLogger("l3roam.node")


@dataclass
class Footprint:
    link: LinkInfo | None = None
    sysctls: dict[str, str] = field(default_factory=dict)


def touched_sysctls(cfg) -> list[str]:
    """Every sysctl the agent may write for ``cfg`` (gateway, SID, redirects)."""
    keys = [k for k, _ in gateway_sysctls(cfg.client_interface)]
    if cfg.handoff.enabled:
        keys += ["net.ipv6.conf.all.forwarding", "net.ipv4.ip_forward"]
    return list(dict.fromkeys(keys))


def record(kernel, cfg) -> Footprint:
    fp = Footprint()
    for key in touched_sysctls(cfg):
        try:
            fp.sysctls[key] = kernel.get_sysctl(key)
        except L3roamError as exc:  # not readable here: it cannot be restored either
            event(log, "sysctl_unrecorded", level=logging.WARNING, key=key, error=exc)
    fp.link = kernel.get_link(cfg.client_interface)
    return fp


def undo(kernel, cfg, fp: Footprint, roaming: R.RoamingTable, proto: int) -> list[str]:
    """Take back every change; returns the failures (also logged)."""
    failures: list[str] = []

    def attempt(what: str, fn, *args, **kw) -> None:
        try:
            fn(*args, **kw)
        except L3roamError as exc:
            failures.append(f"{what}: {exc}")
            event(log, "undo_failed", level=logging.WARNING, step=what, error=exc)

    handing_off = [c.ip for c in roaming.clients.values() if c.state is R.State.HANDING_OFF and c.ip]
    for ip in handing_off:
        attempt(f"redirect {ip}", kernel.remove_redirect, ip, proto=proto)
        attempt(f"redirect {ip}", kernel.remove_redirect, ip)  # the unannounced copy
    attempt("client routes", kernel.reconcile_host_routes, {}, proto)
    attempt("station binding", kernel.guard_teardown)
    if cfg.handoff.enabled and cfg.handoff.sid is not None:
        attempt("SID", kernel.remove_sid, cfg.handoff.sid)
    attempt("gateway", kernel.teardown_gateway, cfg.client_interface, cfg.gateway, fp.link)
    for key, value in fp.sysctls.items():
        attempt(f"sysctl {key}", kernel.set_sysctl, key, value)
    event(log, "kernel_restored", redirects=len(handing_off), sysctls=len(fp.sysctls),
          failures=len(failures))
    return failures
