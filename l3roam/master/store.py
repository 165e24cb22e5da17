"""The master's durable store: the interface, the change batch, and SQLite.

``LeaseStore`` is the seam another backend implements: ``load`` returns every
record at start, ``commit`` makes one ``Batch`` durable before it returns.
The server gathers the changes of all requests that arrived together into one
batch and acknowledges them only after ``commit``: one fsync serves many
requests (group commit), so durability does not cap throughput.

``SqliteStore`` uses WAL with ``synchronous=FULL``: a commit that returned is
on disk, and a ``kill -9`` at any moment loses nothing acknowledged.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Protocol

from l3roam.core.lease import Lease, LeaseState
from l3roam.core.location import Location


@dataclass(frozen=True)
class NodeInfo:
    node: str
    host: str
    port: int
    handoff: IPv6Address | None
    last_seen: float


@dataclass(frozen=True)
class Notice:
    """A move notice the previous node has not acknowledged yet."""

    mac: str
    ip: IPv4Address | None
    old_node: str
    new_node: str
    seq: int
    created: float

    @property
    def key(self) -> str:
        return f"{self.mac}|{self.old_node}"


@dataclass
class Batch:
    """Upserts keyed by record; a value of None deletes the record."""

    leases: dict[str, Lease | None] = field(default_factory=dict)
    quarantine: dict[IPv4Address, float | None] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    senders: dict[str, int] = field(default_factory=dict)
    notices: dict[str, Notice | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any((self.leases, self.quarantine, self.locations, self.nodes,
                    self.senders, self.notices))

    def merge(self, later: "Batch") -> None:
        """Fold a later batch into this one (the later value of a record wins)."""
        self.leases.update(later.leases)
        self.quarantine.update(later.quarantine)
        self.locations.update(later.locations)
        self.nodes.update(later.nodes)
        for sender, seq in later.senders.items():
            self.senders[sender] = max(seq, self.senders.get(sender, 0))
        self.notices.update(later.notices)



@dataclass
class Snapshot:
    leases: list[Lease] = field(default_factory=list)
    quarantine: dict[IPv4Address, float] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=list)
    nodes: list[NodeInfo] = field(default_factory=list)
    senders: dict[str, int] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)


class LeaseStore(Protocol):
    def load(self) -> Snapshot: ...

    def commit(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Keeps the last committed state in memory: for unit tests of the service."""

    def __init__(self) -> None:
        self.state = Snapshot()
        self.commits = 0

    def load(self) -> Snapshot:
        return self.state

    def commit(self, batch: Batch) -> None:
        leases = {lease.mac: lease for lease in self.state.leases}
        for mac, lease in batch.leases.items():
            if lease is None:
                leases.pop(mac, None)
            else:
                leases[mac] = lease
        self.state.leases = list(leases.values())
        for ip, until in batch.quarantine.items():
            if until is None:
                self.state.quarantine.pop(ip, None)
            else:
                self.state.quarantine[ip] = until
        locs = {loc.mac: loc for loc in self.state.locations}
        locs.update(batch.locations)
        self.state.locations = list(locs.values())
        nodes = {n.node: n for n in self.state.nodes}
        nodes.update(batch.nodes)
        self.state.nodes = list(nodes.values())
        self.state.senders.update(batch.senders)
        notices = {n.key: n for n in self.state.notices}
        for k, n in batch.notices.items():
            if n is None:
                notices.pop(k, None)
            else:
                notices[k] = n
        self.state.notices = list(notices.values())
        self.commits += 1

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS lease (
    mac TEXT PRIMARY KEY, ip INTEGER NOT NULL, state INTEGER NOT NULL,
    expires REAL NOT NULL, hostname TEXT, client_id BLOB, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (ip INTEGER PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS location (
    mac TEXT PRIMARY KEY, node TEXT NOT NULL, seq INTEGER NOT NULL, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS node (
    node TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL, handoff BLOB,
    last_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sender (sender TEXT PRIMARY KEY, high_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS notice (
    key TEXT PRIMARY KEY, mac TEXT NOT NULL, ip INTEGER, old_node TEXT NOT NULL,
    new_node TEXT NOT NULL, seq INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('schema', '1');
"""


class SqliteStore:
    """SQLite in WAL mode; commits fsync the WAL (``synchronous=FULL``).

    Checkpoints (copying the WAL into the database file, another fsync) run in
    a background thread on a second connection, in PASSIVE mode so they never
    block a commit; the writer's own automatic checkpoints are off.
    """

    CHECKPOINT_SECONDS = 1.0

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=FULL")
        try:
            while not self._stop.wait(self.CHECKPOINT_SECONDS):
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def load(self) -> Snapshot:
        db = self._db
        snap = Snapshot()
        for mac, ip, state, expires, hostname, cid, updated in db.execute(
                "SELECT mac, ip, state, expires, hostname, client_id, updated FROM lease"):
            snap.leases.append(Lease(mac, IPv4Address(ip), LeaseState(state), expires, hostname,
                                     cid, updated))
        snap.quarantine = {IPv4Address(ip): until for ip, until in
                           db.execute("SELECT ip, until FROM quarantine")}
        snap.locations = [Location(*row) for row in
                          db.execute("SELECT mac, node, seq, since FROM location")]
        snap.nodes = [NodeInfo(n, h, p, IPv6Address(hd) if hd else None, ls) for n, h, p, hd, ls in
                      db.execute("SELECT node, host, port, handoff, last_seen FROM node")]
        snap.senders = dict(db.execute("SELECT sender, high_seq FROM sender"))
        snap.notices = [Notice(mac, IPv4Address(ip) if ip is not None else None, o, n, s, c)
                        for mac, ip, o, n, s, c in db.execute(
                            "SELECT mac, ip, old_node, new_node, seq, created FROM notice")]
        return snap

    def commit(self, batch: Batch) -> None:
        if not batch:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            up = [(lease.mac, int(lease.ip), int(lease.state), lease.expires, lease.hostname,
                   lease.client_id, lease.updated) for lease in batch.leases.values() if lease]
            if up:
                db.executemany("INSERT OR REPLACE INTO lease VALUES (?,?,?,?,?,?,?)", up)
            gone = [(mac,) for mac, lease in batch.leases.items() if lease is None]
            if gone:
                db.executemany("DELETE FROM lease WHERE mac=?", gone)
            if batch.quarantine:
                db.executemany("INSERT OR REPLACE INTO quarantine VALUES (?,?)",
                               [(int(ip), t) for ip, t in batch.quarantine.items() if t is not None])
                db.executemany("DELETE FROM quarantine WHERE ip=?",
                               [(int(ip),) for ip, t in batch.quarantine.items() if t is None])
            if batch.locations:
                db.executemany("INSERT OR REPLACE INTO location VALUES (?,?,?,?)",
                               [(x.mac, x.node, x.seq, x.since) for x in batch.locations.values()])
            if batch.nodes:
                db.executemany("INSERT OR REPLACE INTO node VALUES (?,?,?,?,?)",
                               [(n.node, n.host, n.port, n.handoff.packed if n.handoff else None,
                                 n.last_seen) for n in batch.nodes.values()])
            if batch.senders:
                db.executemany("INSERT OR REPLACE INTO sender VALUES (?,?)", batch.senders.items())
            if batch.notices:
                db.executemany("INSERT OR REPLACE INTO notice VALUES (?,?,?,?,?,?,?)",
                               [(n.key, n.mac, int(n.ip) if n.ip else None, n.old_node, n.new_node,
                                 n.seq, n.created) for n in batch.notices.values() if n])
                db.executemany("DELETE FROM notice WHERE key=?",
                               [(k,) for k, n in batch.notices.items() if n is None])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()


def open_store(backend: str, path: Path) -> LeaseStore:
    if backend == "sqlite":
        return SqliteStore(path)
    raise ValueError(f"unknown store backend {backend!r}")
