"""A real master process on loopback, with its own SQLite file, for each test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from l3roam.master.client import MasterClient
from l3roam.proto.control import MessageType

KEY_HEX = "636f6d706f6e656e742d746573742d6b6579"


def free_port(kind=socket.SOCK_DGRAM) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class MasterProc:
    config: Path
    port: int
    metrics_port: int
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def key(self) -> bytes:
        return bytes.fromhex(KEY_HEX)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "l3roam", "master", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = MasterClient("probe", self.key, ("127.0.0.1", self.port), deadline=0.2)
        try:
            for _ in range(200):
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    probe.call(MessageType.HELLO, {})
                    return
                except Exception:
                    time.sleep(0.05)
            raise AssertionError("master did not come up")
        finally:
            probe.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(10)

    def client(self, node: str, **kw) -> MasterClient:
        return MasterClient(node, self.key, ("127.0.0.1", self.port), **kw)

    def metrics(self) -> str:
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()


def master_proc(tmp_path: Path, extra: str = "") -> MasterProc:
    """A master configured with the shared test key plus ``extra`` YAML (not started)."""
    port, mport = free_port(), free_port(socket.SOCK_STREAM)
    log = tmp_path / "master.log"
    cfg = tmp_path / "master.yaml"
    cfg.write_text(f"""
listen: 127.0.0.1:{port}
key: {KEY_HEX}
metrics_listen: 127.0.0.1:{mport}
log_file: {log}
pools:
  - prefix: 10.99.0.0/16
    exclude: [10.99.0.1]
store: {{path: {tmp_path / 'master.db'}}}
""" + extra)
    return MasterProc(cfg, port, mport, log)


@pytest.fixture
def master(tmp_path):
    m = master_proc(tmp_path)
    m.start()
    try:
        yield m
    finally:
        m.kill()


@pytest.fixture
def make_master(tmp_path):
    """``make_master(extra_yaml)``: a started master with more configuration (killed at the end)."""
    made: list[MasterProc] = []

    def make(extra: str = "") -> MasterProc:
        m = master_proc(tmp_path, extra)
        m.start()
        made.append(m)
        return m

    try:
        yield make
    finally:
        for m in made:
            m.kill()

@dataclass
class ReplicatedMasters:
    """Three real etcd members and two real master processes sharing them."""

    tmp: Path
    cluster: object
    ports: list[int]
    procs: list = None

    @property
    def key(self) -> bytes:
        return bytes.fromhex(KEY_HEX)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", p) for p in self.ports]

    def log(self, i: int) -> str:
        p = self.tmp / f"master{i}.log"
        return p.read_text() if p.exists() else ""

    def start(self, i: int) -> None:
        eps = ", ".join(f"{h}:{p}" for h, p in self.cluster.endpoints)
        cfg = self.tmp / f"master{i}.yaml"
        cfg.write_text(f"""
listen: 127.0.0.1:{self.ports[i]}
key: {KEY_HEX}
metrics_listen: null
log_file: {self.tmp / f'master{i}.log'}
pools: [{{prefix: 10.99.0.0/16, exclude: [10.99.0.1]}}]
store: {{backend: etcd, etcd: {{endpoints: [{eps}], name: m{i}, max_txn_ops: 1024}}}}
""")
        self.procs[i] = subprocess.Popen([sys.executable, "-m", "l3roam", "master", "--config", str(cfg)],
                                         stdout=subprocess.DEVNULL,
                                         stderr=open(self.tmp / f"master{i}.err", "w"))

    def active(self, timeout: float = 10.0) -> int:
        """Index of the master that serves (its last role line says active)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for i in range(len(self.procs)):
                if self.procs[i] is not None and self.procs[i].poll() is None:
                    log = self.log(i)
                    if log.rfind("event=master_started") > max(log.rfind("event=master_standby"),
                                                                 log.rfind("event=master_demoted")):
                        return i
            time.sleep(0.05)
        raise AssertionError("no active master:\n" + "\n".join(self.log(i) for i in range(2)))

    def kill(self, i: int) -> None:
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(10)

    def client(self, node: str, **kw) -> MasterClient:
        return MasterClient(node, self.key, self.addresses, **kw)


@pytest.fixture
def replicated(tmp_path):
    from l3roam.master.etcd_cluster import LocalCluster

    cluster = LocalCluster(tmp_path / "etcd")
    m = ReplicatedMasters(tmp_path, cluster, [free_port(), free_port()], [None, None])
    try:
        cluster.start()
        m.start(0)
        m.active()
        m.start(1)
        end = time.monotonic() + 10
        while "event=master_standby" not in m.log(1) and time.monotonic() < end:
            time.sleep(0.05)
        assert "event=master_standby" in m.log(1), m.log(1)
        yield m
    finally:
        for i in range(2):
            m.kill(i)
        cluster.close()
