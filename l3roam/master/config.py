"""The lease master's configuration (configs/master.yaml), as frozen dataclasses."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Literal

from l3roam.config import Endpoint, MacAddress, load_file
from l3roam.errors import ConfigError, ConfigProblem
from l3roam.proto.keys import MAX_KEY_ID, SHARED_ID, KeyRing, NodeKey


def parse_range(text: str) -> tuple[IPv4Address, IPv4Address] | None:
    """``a.b.c.d`` or ``a.b.c.d-e.f.g.h``; None when malformed."""
    try:
        lo, _, hi = text.partition("-")
        first = IPv4Address(lo.strip())
        last = IPv4Address(hi.strip()) if hi else first
    except ValueError:
        return None
    return (first, last) if first <= last else None


@dataclass(frozen=True)
class PoolConfig:
    prefix: IPv4Network
    exclude: list[str] = field(default_factory=list)  # addresses or ranges a-b

    def check(self) -> list[ConfigProblem]:
        out = []
        for i, item in enumerate(self.exclude):
            r = parse_range(item)
            if r is None:
                out.append(ConfigProblem(f"exclude[{i}]", f"expected an address or a range a-b, got {item!r}"))
            elif r[0] not in self.prefix or r[1] not in self.prefix:
                out.append(ConfigProblem(f"exclude[{i}]", f"{item} is outside {self.prefix}"))
        if self.prefix.prefixlen > 30:
            out.append(ConfigProblem("prefix", "must hold at least two host addresses (/30 or shorter)"))
        return out

    def excluded(self) -> set[IPv4Address]:
        out: set[IPv4Address] = set()
        for item in self.exclude:
            r = parse_range(item)
            if r:
                out.update(IPv4Address(i) for i in range(int(r[0]), int(r[1]) + 1))
        return out


@dataclass(frozen=True)
class LeaseConfig:
    lease_seconds: int = 3600
    offer_hold_seconds: float = 10.0
    grace_seconds: float = 86400.0
    quarantine_seconds: float = 600.0

    def check(self) -> list[ConfigProblem]:
        out = []
        for name in ("lease_seconds", "offer_hold_seconds", "quarantine_seconds"):
            if getattr(self, name) <= 0:
                out.append(ConfigProblem(name, "must be positive"))
        if self.grace_seconds < 0:
            out.append(ConfigProblem("grace_seconds", "must not be negative"))
        return out


@dataclass(frozen=True)
class EtcdConfig:
    endpoints: list[Endpoint] = field(default_factory=list)  # client URLs of the members, host:port
    prefix: str = "/l3roam/"
    name: str | None = None  # this master's name in the leader key; default host:pid
    lease_ttl_seconds: int = 1  # etcd raises it to its own minimum (1.5 election timeouts)
    request_timeout_seconds: float = 1.0
    max_txn_ops: int = 128  # etcd's --max-txn-ops; larger batches take several transactions
    poll_seconds: float = 0.1
    heartbeat_seconds: float = 0.1  # the active master's liveness write
    takeover_seconds: float = 0.5  # a standby deposes an active master silent this long

    def check(self) -> list[ConfigProblem]:
        out = []
        if not self.endpoints:
            out.append(ConfigProblem("endpoints", "at least one etcd member (host:port) is needed"))
        if not (self.prefix.startswith("/") and self.prefix.endswith("/") and len(self.prefix) > 1):
            out.append(ConfigProblem("prefix", f"must start and end with '/', got {self.prefix!r}"))
        if self.lease_ttl_seconds < 1:
            out.append(ConfigProblem("lease_ttl_seconds", "must be at least 1"))
        if self.request_timeout_seconds <= 0:
            out.append(ConfigProblem("request_timeout_seconds", "must be positive"))
        if self.max_txn_ops < 16:
            out.append(ConfigProblem("max_txn_ops", "must be at least 16"))
        if not 0 < self.poll_seconds <= 5:
            out.append(ConfigProblem("poll_seconds", "must be in (0, 5]"))
        if not 0 < self.heartbeat_seconds <= 5:
            out.append(ConfigProblem("heartbeat_seconds", "must be in (0, 5]"))
        if self.takeover_seconds < 3 * max(self.heartbeat_seconds, self.poll_seconds):
            out.append(ConfigProblem("takeover_seconds",
                                     "must be at least 3 heartbeats and 3 polls, or a busy master "
                                     "is deposed"))
        return out


@dataclass(frozen=True)
class StoreConfig:
    backend: Literal["sqlite", "etcd"] = "sqlite"
    path: Path = Path("/var/lib/l3roam/master.db")  # sqlite
    etcd: EtcdConfig | None = None

    def check(self) -> list[ConfigProblem]:
        if self.backend == "etcd" and self.etcd is None:
            return [ConfigProblem("etcd", "required when backend is etcd (endpoints at least)")]
        return []


@dataclass(frozen=True)
class NotifyConfig:
    retry_initial_ms: int = 50
    retry_max_ms: int = 1000
    timeout_seconds: float = 30.0


def parse_time(text: str) -> float | None:
    """ISO 8601 date/time (UTC when no zone is given) -> epoch seconds; None when malformed."""
    try:
        t = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()


@dataclass(frozen=True)
class NodeKeyConfig:
    """One node's key: the node signs with it under ``id``; the master refuses it for any other node."""

    id: str
    node: str
    key: str | None = None  # hex; prefer key_file
    key_file: Path | None = None
    not_after: str | None = None  # ISO 8601: the key ends then (rotation: the old key's overlap)

    def check(self) -> list[ConfigProblem]:
        out = check_key(self.key, self.key_file)
        if not 1 <= len(self.id.encode()) <= MAX_KEY_ID:
            out.append(ConfigProblem("id", f"must be 1..{MAX_KEY_ID} bytes"))
        if self.id == SHARED_ID:
            out.append(ConfigProblem("id", f"{SHARED_ID!r} names the shared key; pick another id"))
        if not 1 <= len(self.node.encode()) <= 64:
            out.append(ConfigProblem("node", "must be 1..64 bytes"))
        if self.not_after is not None and parse_time(self.not_after) is None:
            out.append(ConfigProblem("not_after", f"expected an ISO 8601 time, got {self.not_after!r}"))
        return out

    def node_key(self) -> NodeKey:
        end = parse_time(self.not_after) if self.not_after else None
        return NodeKey(self.id, read_key(self.key, self.key_file), self.node, end)


@dataclass(frozen=True)
class MasterConfig:
    pools: list[PoolConfig]
    key: str | None = None  # shared key, hex: any sender may use it (ctl, tools); prefer key_file
    key_file: Path | None = None
    node_keys: list[NodeKeyConfig] = field(default_factory=list)  # a key per node (identity)
    listen: Endpoint = Endpoint("0.0.0.0:4500")
    reservations: dict[MacAddress, IPv4Address] = field(default_factory=dict)
    lease: LeaseConfig = field(default_factory=LeaseConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    max_skew_seconds: float = 30.0
    metrics_listen: Endpoint | None = Endpoint("127.0.0.1:9468")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_file: Path | None = None

    def check(self) -> list[ConfigProblem]:
        out = check_key(self.key, self.key_file, required=not self.node_keys)
        ids = [k.id for k in self.node_keys]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            out.append(ConfigProblem("node_keys", f"key id {dup!r} is given twice"))
        if not self.pools:
            out.append(ConfigProblem("pools", "at least one pool is needed"))
        nets = [p.prefix for p in self.pools]
        for i, a in enumerate(nets):
            for b in nets[i + 1:]:
                if a.overlaps(b):
                    out.append(ConfigProblem("pools", f"{a} overlaps {b}"))
        seen: dict[IPv4Address, str] = {}
        for mac, ip in self.reservations.items():
            if not any(ip in n for n in nets):
                out.append(ConfigProblem(f"reservations.{mac}", f"{ip} is in no pool"))
            for pool in self.pools:  # the lease table refuses an excluded address to everyone
                for item in pool.exclude:
                    r = parse_range(item)
                    if r is not None and r[0] <= ip <= r[1]:
                        out.append(ConfigProblem(f"reservations.{mac}",
                                                 f"{ip} is excluded ({item} in pool {pool.prefix}): it could "
                                                 "never be leased; reserve an address outside the exclusions"))
            if ip in seen:
                out.append(ConfigProblem(f"reservations.{mac}", f"{ip} is reserved for {seen[ip]} too"))
            seen[ip] = mac
        return out

    def shared_key(self) -> bytes | None:
        if self.key is None and self.key_file is None:
            return None
        return read_key(self.key, self.key_file)

    def keyring(self) -> KeyRing:
        shared = self.shared_key()
        return KeyRing([k.node_key() for k in self.node_keys],
                       NodeKey(SHARED_ID, shared) if shared is not None else None)

    def tool_key(self) -> NodeKey:
        """What ``ctl`` signs with: the shared key, else a key of the node ``ctl``."""
        shared = self.shared_key()
        if shared is not None:
            return NodeKey(SHARED_ID, shared)
        for k in self.node_keys:
            if k.node == "ctl":
                return k.node_key()
        raise ConfigError("master config", [ConfigProblem(
            "node_keys", "ctl needs the shared key or a key of node 'ctl'")])

    def excluded(self) -> set[IPv4Address]:
        out: set[IPv4Address] = set()
        for p in self.pools:
            out |= p.excluded()
        return out


def check_key(key: str | None, key_file: Path | None, required: bool = True) -> list[ConfigProblem]:
    if key is None and key_file is None and not required:
        return []
    if (key is None) == (key_file is None):
        return [ConfigProblem("key", "give exactly one of key (hex) or key_file")]
    if key is not None:
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            return [ConfigProblem("key", "must be hex")]
        if len(raw) < 16:
            return [ConfigProblem("key", "must be at least 16 bytes (32 hex digits)")]
    elif key_file is not None and not os.path.exists(key_file):
        return [ConfigProblem("key_file", f"{key_file} does not exist")]
    elif key_file is not None:
        problem = key_file_problem(Path(key_file))
        if problem:
            return [ConfigProblem("key_file", problem)]
    return []


def key_file_problem(path: Path) -> str | None:
    """A key file anyone but its owner may read (or write) is refused, as ssh does."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if mode & 0o077:
        return (f"{path} is readable or writable by group or others (mode {oct(mode & 0o777)}); "
                f"run: chmod 600 {path}")
    return None


def read_key(key: str | None, key_file: Path | None) -> bytes:
    """The shared key: inline hex, or a file holding hex (or at least 16 raw bytes)."""
    if key is not None:
        return bytes.fromhex(key)
    assert key_file is not None
    problem = key_file_problem(Path(key_file))
    if problem:
        raise ConfigError(str(key_file), [ConfigProblem("key_file", problem)])
    data = Path(key_file).read_bytes()
    text = data.strip()
    try:
        raw = bytes.fromhex(text.decode())
    except (UnicodeDecodeError, ValueError):
        raw = data
    if len(raw) < 16:
        raise ConfigError(str(key_file), [ConfigProblem("key_file", "key must be at least 16 bytes")])
    return raw


def load(path: str | Path) -> MasterConfig:
    return load_file(MasterConfig, path)
