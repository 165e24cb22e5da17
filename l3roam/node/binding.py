"""The agent's side of station binding: which (address, MAC) pairs and station ports it told
the kernel about (``Kernel.guard_*``; rules in ``kernel/guard_rules.py``).

A pair is bound with the client's /32 and unbound when the route goes or is
handed off, so the binding follows the client.  Station ports get a number
the filter puts on their DHCP packets as the packet mark; the DHCP socket
reads it back (``port_of``) for the per-port cap on offers.
"""

from __future__ import annotations

from ipaddress import IPv4Address


class StationBinding:
    def __init__(self, kernel, interface: str, enabled: bool):
        self.kernel = kernel
        self.interface = interface
        self.enabled = enabled
        self.bound: dict[IPv4Address, str] = {}  # address -> MAC of served clients (element + neighbour)
        self.admitted: dict[IPv4Address, str] = {}  # address -> MAC the master leased (element only)
        self._port_marks: dict[str, int] = {}  # station port -> packet mark of its DHCP
        self._mark_ports: dict[int, str] = {}
        self._next_mark = 1

    def start(self, gateway: IPv4Address, trusted_ports: tuple[str, ...], limits: dict[str, int]) -> None:
        if not self.enabled:
            return
        self.kernel.guard_setup(self.interface, gateway, trusted_ports, **limits)
        self.bound = dict(self.kernel.guard_bindings())  # kept across a restart of the agent

    def bind(self, ip: IPv4Address, mac: str) -> None:
        if not self.enabled or self.bound.get(ip) == mac:
            return
        if ip in self.bound:
            self.unbind(ip)
        self.kernel.guard_bind(self.interface, ip, mac)
        self.bound[ip] = mac

    def unbind(self, ip: IPv4Address) -> None:
        mac = self.bound.pop(ip, None)
        if mac is not None:
            self.kernel.guard_unbind(self.interface, ip, mac, keep_element=self.admitted.get(ip) == mac)

    def admit(self, pairs: dict[IPv4Address, str]) -> None:
        """Exactly ``pairs`` (the master's leases this node knows) are admitted from now on.

        An admitted pair may source traffic here before this AP serves its client, so a
        roaming station's first frames are not dropped while its arrival is being handled;
        it gives nothing the master did not lease (docs/node-kernel.md, "Station binding")."""
        if not self.enabled:
            return
        add = {ip: mac for ip, mac in pairs.items() if self.admitted.get(ip) != mac}
        remove = {ip: mac for ip, mac in self.admitted.items()
                  if pairs.get(ip) != mac and self.bound.get(ip) != mac}
        if add or remove:
            self.kernel.guard_admit(self.interface, add, remove)
        self.admitted = dict(pairs)

    def unadmit(self, ip: IPv4Address) -> None:
        """The lease of ``ip`` ended: its pair is no longer admitted (a served one goes with unbind)."""
        mac = self.admitted.pop(ip, None)
        if mac is not None and self.bound.get(ip) != mac:
            self.kernel.guard_admit(self.interface, {}, {ip: mac})

    def admit_one(self, ip: IPv4Address, mac: str) -> None:
        """One pair learnt from a master's answer; an older MAC for the address is dropped."""
        if not self.enabled or self.admitted.get(ip) == mac:
            return
        old = self.admitted.get(ip)
        remove = {ip: old} if old is not None and self.bound.get(ip) != old else {}
        self.kernel.guard_admit(self.interface, {ip: mac}, remove)
        self.admitted[ip] = mac

    def reconcile(self, wanted: dict[IPv4Address, str]) -> None:
        """After a restart: exactly ``wanted`` (address -> MAC) stays bound."""
        for ip, mac in list(self.bound.items()):
            if wanted.get(ip) != mac:
                self.unbind(ip)
        for ip, mac in wanted.items():
            self.bind(ip, mac)

    def port_up(self, port: str) -> None:
        if not self.enabled or port in self._port_marks:
            return
        mark, self._next_mark = self._next_mark, self._next_mark + 1
        self._port_marks[port], self._mark_ports[mark] = mark, port
        self.kernel.guard_port(port, mark)

    def port_down(self, port: str) -> None:
        mark = self._port_marks.pop(port, None)
        if mark is not None:
            self._mark_ports.pop(mark, None)
            self.kernel.guard_port(port, None, old=mark)

    def port_of(self, mark: int) -> str | None:
        return self._mark_ports.get(mark)
