"""The ``babel:`` section of a node's configuration: one file per node.

``l3roam babel-config --config node.yaml`` renders this node's babeld.conf
from the same file the agent reads, so the two cannot disagree: the client
prefix is the gateway's prefix, the client route protocol is
``route_protocol``, babeld's control socket is ``babel_socket``, and the
node's loopback (``control_address``) and hand-off SID (``handoff.sid``) are
redistributed as host routes.  What only babel needs (router id, interface
timers, further own host routes) lives under ``babel:``.

Pure: builds ``BabelSettings`` and maps their problems back to this file's
keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_network
from typing import TYPE_CHECKING

from l3roam.babel.config import BabelSettings, InterfaceSettings, router_id_for
from l3roam.errors import ConfigProblem

if TYPE_CHECKING:
    from l3roam.node.config import NodeConfig


@dataclass(frozen=True)
class BabelSection:
    """Keys under ``babel:`` in configs/node.yaml."""

    router_id: str | None = None  # MAC-48 or EUI-64; None: derived from control_address
    interfaces: list[InterfaceSettings] = field(default_factory=list)  # empty: mesh_interfaces, wired
    own_prefixes: list[str] = field(default_factory=list)  # further own host routes (IPv6 locator /128)
    kernel_priority: int = 100
    kernel_check_interval: int = 10  # babeld's periodic kernel-table check (docs/babel.md)
    local_port: int | None = None  # read-write control port on ::1, besides babel_socket


def settings_for(cfg: "NodeConfig") -> tuple[BabelSettings, dict[str, str]]:
    """This node's ``BabelSettings``, and a map from their keys to the node file's keys."""
    sec = cfg.babel or BabelSection()
    keys = {"router_id": "babel.router_id", "kernel_priority": "babel.kernel_priority",
            "kernel_check_interval": "babel.kernel_check_interval",
            "local_port": "babel.local_port", "local_path": "babel_socket",
            "client_prefix": "gateway", "client_proto": "route_protocol"}
    if sec.interfaces:
        interfaces = tuple(sec.interfaces)
        keys["interfaces"] = "babel.interfaces"
        keys.update({f"interfaces[{i}]": f"babel.interfaces[{i}]" for i in range(len(interfaces))})
    else:
        interfaces = tuple(InterfaceSettings(name) for name in cfg.mesh_interfaces)
        keys["interfaces"] = "mesh_interfaces"
        keys.update({f"interfaces[{i}]": f"mesh_interfaces[{i}]" for i in range(len(interfaces))})
    own = list(sec.own_prefixes)
    keys.update({f"own_prefixes[{i}]": f"babel.own_prefixes[{i}]" for i in range(len(own))})
    for value, key in ((cfg.control_address, "control_address"),
                       (cfg.handoff.sid if cfg.handoff.enabled else None, "handoff.sid")):
        if value is None:
            continue
        text = f"{value}/{value.max_prefixlen}"
        if not any(_same(text, o) for o in own):
            keys[f"own_prefixes[{len(own)}]"] = key
            own.append(text)
    router_id = sec.router_id
    if router_id is None:
        loopback = cfg.control_address or _first_ipv4_host(own)
        router_id = router_id_for(loopback) if loopback is not None else ""
    settings = BabelSettings(
        router_id=router_id, interfaces=interfaces, own_prefixes=tuple(own),
        client_prefix=str(cfg.gateway.network), client_proto=cfg.route_protocol,
        kernel_priority=sec.kernel_priority, kernel_check_interval=sec.kernel_check_interval,
        local_path=str(cfg.babel_socket) if cfg.babel_socket else None, local_port=sec.local_port)
    return settings, keys


def problems_for(cfg: "NodeConfig", *, nested_checked: bool) -> list[ConfigProblem]:
    """Everything babeld.conf would refuse, under the node file's keys.

    ``nested_checked``: the YAML loader has already checked ``babel.interfaces``
    entries (it calls their ``check``); do not report them twice.
    """
    settings, keys = settings_for(cfg)
    out = []
    raw = list(settings.check())
    if not (nested_checked and cfg.babel is not None and cfg.babel.interfaces):
        for i, iface in enumerate(settings.interfaces):
            raw += [ConfigProblem(f"interfaces[{i}].{p.key}", p.problem) for p in iface.check()]
    for p in raw:
        out.append(ConfigProblem(_map_key(p.key, keys), p.problem))
    if cfg.babel is not None and cfg.babel.interfaces:
        names = {i.name for i in cfg.babel.interfaces}
        out += [ConfigProblem(f"mesh_interfaces[{i}]", f"{name} is not among babel.interfaces, so babeld "
                                                      "would not route over it")
                for i, name in enumerate(cfg.mesh_interfaces) if name not in names]
    if not settings.router_id:
        out = [p for p in out if p.key != "babel.router_id"]
        out.append(ConfigProblem("babel.router_id", "required: give it, or control_address (the node's "
                                                   "loopback) to derive it from"))
    return out


def _map_key(key: str, keys: dict[str, str]) -> str:
    for k in sorted(keys, key=len, reverse=True):  # longest first: interfaces[0] before interfaces
        if key == k or key.startswith(k + ".") or key.startswith(k + "["):
            mapped = keys[k] + key[len(k):]
            if keys[k].startswith("mesh_interfaces[") and key != k:
                return keys[k]  # an interface's name/timers derived from mesh_interfaces
            return mapped
    return f"babel.{key}"


def _same(a: str, b: str) -> bool:
    try:
        return ip_network(a) == ip_network(b, strict=False)
    except ValueError:
        return False


def _first_ipv4_host(prefixes: list[str]) -> IPv4Address | None:
    for text in prefixes:
        try:
            net = ip_network(text)
        except ValueError:
            continue
        if net.version == 4 and net.prefixlen == 32:
            return net.network_address
    return None
