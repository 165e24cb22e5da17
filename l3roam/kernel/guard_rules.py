"""Station binding at the client side of an AP, as nftables rules (pure).

What enterprise switches call DHCP snooping, dynamic ARP inspection and IP
source guard, for an AP whose clients attach to one interface:

- the set ``bound`` holds every (MAC, address) pair leased to a client this
  AP serves (the agent adds a pair with the client's /32 and removes it with
  the route);
- an IPv4 packet from a client is accepted only when its (source MAC, source
  address) pair is in ``bound``; an ARP packet only when both (frame source,
  sender address) and (sender MAC, sender address) are: since an address has
  one leased MAC, that also makes the ARP sender MAC equal the frame's source;
- DHCP to the server (UDP 68 -> 67, to broadcast or the gateway) is accepted
  from any address, so clients without a lease (0.0.0.0) and roamed clients
  can still ask, but only at ``dhcp_port_rate`` per station port and
  ``dhcp_mac_rate`` per source MAC (token buckets in the kernel);
- an accepted DHCP packet carries a number for the station port it entered
  by as its packet mark (map ``portmark``, kept by the agent as ports come and
  go; this nftables cannot copy the port's index into the mark), which the
  agent's DHCP socket reads (SO_RCVMARK) for the per-port cap on offers;
- an ARP probe (sender 0.0.0.0, RFC 5227) is accepted;
- everything else that is IPv4 or ARP is dropped and counted by reason in a
  named counter (``REASONS``).  Other ethertypes (IPv6) pass untouched.

Where the rules hook: on a bridge (the testbed's ``cell0``, an AP's Wi-Fi
bridge) the ``bridge`` family's prerouting hook, on every port except the
``trusted`` ones (uplinks), because this kernel's nftables cannot match the
bridge's name (no NFT_BRIDGE_META) and the ports come and go with stations;
on a plain interface the ``netdev`` family's ingress hook of that device.
docs/node-kernel.md says why nftables and not tc (measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

TABLE = "l3roam_guard"

#: drop reasons, each a named nftables counter (and a metrics label)
REASONS = ("ipv4_unbound", "arp_unbound", "arp_sender_mac", "dhcp_port_rate", "dhcp_mac_rate")


@dataclass(frozen=True)
class GuardSettings:
    device: str  # the client interface
    bridge: bool  # True: bridge family on its ports; False: netdev ingress of the device
    gateway: IPv4Address
    trusted_ports: tuple[str, ...] = ()  # bridge ports not filtered (uplinks)
    dhcp_port_rate: int = 20  # DHCP packets per second per station port
    dhcp_port_burst: int = 40
    dhcp_mac_rate: int = 4  # DHCP packets per second per source MAC
    dhcp_mac_burst: int = 10
    table: str = TABLE

    @property
    def family(self) -> str:
        return "bridge" if self.bridge else "netdev"


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


@dataclass(frozen=True)
class Binding:
    mac: str
    ip: IPv4Address

    def element(self) -> str:
        return f"{self.mac} . {self.ip}"


def ruleset(s: GuardSettings, bindings: list[Binding] | None = None) -> str:
    """The whole table, replaced atomically (kept bindings are written back in)."""
    fam, t = s.family, s.table
    if s.bridge:
        hook = "type filter hook prerouting priority -200; policy accept;"
        entry = "iifname != @trusted ether type vmap { ip : jump v4, arp : jump arp_in }"
    else:
        hook = f"type filter hook ingress device {_q(s.device)} priority -200; policy accept;"
        entry = "ether type vmap { ip : jump v4, arp : jump arp_in }"
    counters = "\n".join(f"  counter {r} {{}}" for r in REASONS)
    trusted = ", ".join(_q(p) for p in s.trusted_ports)
    elements = ", ".join(b.element() for b in bindings or [])
    return f"""add table {fam} {t}
delete table {fam} {t}
table {fam} {t} {{
{counters}
  map portmark {{ type ifname : mark; }}
  set trusted {{ type ifname; {f"elements = {{ {trusted} }}" if trusted else ""} }}
  set bound {{ type ether_addr . ipv4_addr; {f"elements = {{ {elements} }}" if elements else ""} }}
  chain pre {{
    {hook}
    {entry}
  }}
  chain v4 {{
    ether saddr . ip saddr @bound accept
    ip daddr {{ 255.255.255.255, {s.gateway} }} udp sport 68 udp dport 67 jump dhcp
    counter name "ipv4_unbound" drop
  }}
  chain dhcp {{
    meter dhcp_port size 4096 {{ iifname limit rate over {s.dhcp_port_rate}/second burst {s.dhcp_port_burst} packets }} counter name "dhcp_port_rate" drop
    meter dhcp_mac size 65536 {{ ether saddr limit rate over {s.dhcp_mac_rate}/second burst {s.dhcp_mac_burst} packets }} counter name "dhcp_mac_rate" drop
    meta mark set iifname map @portmark accept
    accept
  }}
  chain arp_in {{
    arp saddr ip 0.0.0.0 accept
    ether saddr . arp saddr ip != @bound counter name "arp_unbound" drop
    arp saddr ether . arp saddr ip != @bound counter name "arp_sender_mac" drop
    accept
  }}
}}
"""


def delete_table(s: GuardSettings) -> str:
    return f"add table {s.family} {s.table}\ndelete table {s.family} {s.table}\n"


def add_binding(s: GuardSettings, b: Binding) -> str:
    return f"add element {s.family} {s.table} bound {{ {b.element()} }}\n"


def del_binding(s: GuardSettings, b: Binding) -> str:
    # "delete" of a missing element fails; "add" first makes it idempotent in one transaction
    return (f"add element {s.family} {s.table} bound {{ {b.element()} }}\n"
            f"delete element {s.family} {s.table} bound {{ {b.element()} }}\n")


def add_port(s: GuardSettings, ifname: str, mark: int) -> str:
    return (f"add element {s.family} {s.table} portmark {{ {_q(ifname)} : {mark} }}\n")


def del_port(s: GuardSettings, ifname: str, mark: int | None = None) -> str:
    """Without ``mark``: fails when the port is not in the map.  With the mark the port was
    given: idempotent ("add" first, as in ``del_binding``), so it never fails; a failing
    command costs libnftables a full cache dump (10-20 ms, measured), which the hot path
    of a roam cannot afford."""
    d = f"delete element {s.family} {s.table} portmark {{ {_q(ifname)} }}\n"
    return d if mark is None else add_port(s, ifname, mark) + d


def parse_bindings(listing: list[dict]) -> list[Binding]:
    """Elements of ``bound`` from ``nft -j list set``."""
    out = []
    for obj in listing:
        for elem in obj.get("set", {}).get("elem", []) or []:
            concat = elem.get("concat") if isinstance(elem, dict) else None
            if concat and len(concat) == 2:
                out.append(Binding(str(concat[0]).lower(), IPv4Address(concat[1])))
    return out


def parse_counters(listing: list[dict]) -> dict[str, int]:
    """Packets per reason from ``nft -j list counters table …``."""
    out = {r: 0 for r in REASONS}
    for obj in listing:
        c = obj.get("counter")
        if c and c.get("name") in out:
            out[c["name"]] = int(c.get("packets", 0))
    return out
