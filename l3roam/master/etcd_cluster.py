"""Running etcd members for tests, benchmarks and testbeds (Debian's ``etcd`` binary).

``member_argv`` is the command line of one member; ``LocalCluster`` starts
``n`` of them on loopback ports (or inside network namespaces through a
``wrap`` prefix such as ``ip netns exec NS``), waits until they have a
leader, kills single members on demand and, on ``close``, kills every member
it started and removes their data directories.

Settings: heartbeat 50 ms and election timeout 500 ms (a leader's death costs
about half a second), automatic compaction so that lease churn does not grow
the database without bound, and ``--max-txn-ops`` raised so a master's batch
usually fits one transaction.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from l3roam.errors import ExternalToolError, StoreUnavailable
from l3roam.master.etcd_gateway import EtcdGateway

ETCD = "etcd"
MAX_TXN_OPS = 1024


def member_argv(name: str, data_dir: Path, client: tuple[str, int], peer: tuple[str, int],
                cluster: dict[str, tuple[str, int]], token: str, heartbeat_ms: int = 50,
                election_ms: int = 500) -> list[str]:
    def url(hp: tuple[str, int]) -> str:
        return f"http://{hp[0]}:{hp[1]}"

    return [ETCD, "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", url(client), "--advertise-client-urls", url(client),
            "--listen-peer-urls", url(peer), "--initial-advertise-peer-urls", url(peer),
            "--initial-cluster", ",".join(f"{n}={url(p)}" for n, p in cluster.items()),
            "--initial-cluster-token", token, "--initial-cluster-state", "new",
            "--heartbeat-interval", str(heartbeat_ms), "--election-timeout", str(election_ms),
            "--max-txn-ops", str(MAX_TXN_OPS),
            "--auto-compaction-mode", "revision", "--auto-compaction-retention", "10000",
            "--logger", "zap", "--log-level", "warn"]


def _free_port(host: str) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Member:
    name: str
    client: tuple[str, int]
    peer: tuple[str, int]
    data_dir: Path
    wrap: list[str]
    proc: subprocess.Popen | None = None


class LocalCluster:
    def __init__(self, base: Path, n: int = 3, hosts: list[str] | None = None,
                 wraps: list[list[str]] | None = None, token: str = "l3roam",
                 client_port: int | None = None, peer_port: int | None = None,
                 probe_netns: str | None = None):
        """``probe_netns``: the namespace from which the members' client ports are reached."""
        if shutil.which(ETCD) is None:
            raise ExternalToolError("etcd is not installed (Debian: apt-get install etcd-server)")
        self.base = Path(base)
        hosts = hosts or ["127.0.0.1"] * n
        wraps = wraps or [[] for _ in range(n)]
        self.members = [
            Member(f"m{i}", (hosts[i], client_port or _free_port(hosts[i])),
                   (hosts[i], peer_port or _free_port(hosts[i])), self.base / f"etcd-m{i}", wraps[i])
            for i in range(n)]
        self.token = f"{token}-{os.getpid()}-{time.monotonic_ns()}"
        self.probe_netns = probe_netns

    def _here(self, fn):
        """Run ``fn`` where the members can be reached (a thread in ``probe_netns``)."""
        if self.probe_netns is None:
            return fn()
        from concurrent.futures import Future

        from l3roam.kernel.nsthread import enter_netns

        fut: Future = Future()

        def body():
            try:
                enter_netns(self.probe_netns)
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

        t = threading.Thread(target=body, daemon=True)
        t.start()
        return fut.result()

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        return [m.client for m in self.members]

    def start(self, timeout: float = 20.0) -> "LocalCluster":
        cluster = {m.name: m.peer for m in self.members}
        for m in self.members:
            self._spawn(m, cluster)
        self.wait_ready(timeout)
        return self

    def _spawn(self, m: Member, cluster: dict) -> None:
        m.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.base / f"{m.name}.etcd.log", "ab")
        m.proc = subprocess.Popen(m.wrap + member_argv(m.name, m.data_dir, m.client, m.peer, cluster,
                                                       self.token),
                                  stdout=log, stderr=log, start_new_session=True)
        log.close()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until a request through a live member succeeds (a leader exists)."""
        self._here(lambda: self._wait_ready(timeout))

    def _wait_ready(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        live = [m.client for m in self.members if m.proc is not None and m.proc.poll() is None]
        gw = EtcdGateway(live, timeout=0.5, deadline=0.5)
        try:
            while True:
                try:
                    gw.txn([], [], [])
                    return
                except StoreUnavailable as exc:
                    if time.monotonic() > end:
                        logs = "\n".join((self.base / f"{m.name}.etcd.log").read_text()[-800:]
                                         for m in self.members)
                        raise ExternalToolError(f"etcd cluster not ready: {exc}\n{logs}") from None
                    time.sleep(0.1)
        finally:
            gw.close()

    def kill(self, i: int) -> None:
        """SIGKILL member ``i`` (its data stays, as after a crash)."""
        m = self.members[i]
        if m.proc is not None and m.proc.poll() is None:
            os.killpg(m.proc.pid, signal.SIGKILL)
            m.proc.wait(10)

    def leader_index(self) -> int | None:
        """Which member is the raft leader now, or None."""
        return self._here(self._leader_index)

    def _leader_index(self) -> int | None:
        for i, m in enumerate(self.members):
            if m.proc is None or m.proc.poll() is not None:
                continue
            gw = EtcdGateway([m.client], timeout=0.5, deadline=0.5)
            try:
                st = gw.status()
                if st.get("leader") == st.get("header", {}).get("member_id"):
                    return i
            except StoreUnavailable:
                continue
            finally:
                gw.close()
        return None

    def close(self) -> None:
        for i in range(len(self.members)):
            try:
                self.kill(i)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        for m in self.members:
            shutil.rmtree(m.data_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
