"""Pure reconciliation of host routes: what to remove and what to add.

Shared by the real and the fake kernel so that both reconcile the same way.
Imports nothing with side effects.
"""

from __future__ import annotations

from ipaddress import IPv4Address


def plan_host_routes(current: dict[IPv4Address, str],
                     wanted: dict[IPv4Address, str]) -> tuple[list[IPv4Address], list[IPv4Address]]:
    """Return (to_remove, to_add), each sorted.

    A route that exists on the wrong interface is in ``to_add`` only: adding
    uses ``replace``, which moves it without a window without a route.
    """
    to_remove = sorted(ip for ip in current if ip not in wanted)
    to_add = sorted(ip for ip, ifname in wanted.items() if current.get(ip) != ifname)
    return to_remove, to_add
