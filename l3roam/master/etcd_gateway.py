"""A small client of etcd's v3 JSON gateway (``POST /v3/...``), over HTTP/1.1.

Only what the master needs: ``txn``, ``range`` (paged), lease ``grant``,
``keepalive`` and ``revoke``, and ``status``.  Keys and values are bytes; the
gateway wants them in base64, which happens here.

One ``EtcdGateway`` holds one keep-alive connection to one member at a time and
is not thread-safe (each thread opens its own).  When the member it talks to
does not answer (refused, reset, timeout, or a 5xx while it has no leader), it
moves to the next endpoint and tries again until ``deadline`` seconds have
passed since the call began; then ``StoreUnavailable``.  Every request the
master sends is safe to repeat: puts of absolute values guarded by a compare.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

from l3roam.errors import StoreUnavailable
from l3roam.master.etcd_records import KeyValue, b64, kv_of, prefix_end


class EtcdGateway:
    def __init__(self, endpoints: list[tuple[str, int]], timeout: float = 1.0,
                 deadline: float = 3.0):
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = list(endpoints)
        self.timeout, self.deadline = timeout, deadline
        self._i = 0
        self._conn: http.client.HTTPConnection | None = None
        self.switches = 0

    @property
    def endpoint(self) -> tuple[str, int]:
        return self.endpoints[self._i]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _next(self) -> None:
        self.close()
        self._i = (self._i + 1) % len(self.endpoints)
        self.switches += 1

    def call(self, path: str, body: dict, deadline: float | None = None) -> dict:
        """POST one request; on a member that does not answer, try the next."""
        end = time.monotonic() + (self.deadline if deadline is None else deadline)
        data = json.dumps(body, separators=(",", ":")).encode()
        last = ""
        tries = 0
        while True:
            host, port = self.endpoint
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
                self._conn.request("POST", path, data, {"Content-Type": "application/json"})
                resp = self._conn.getresponse()
                raw = resp.read()
                if resp.status == 200:
                    out = json.loads(raw)
                    if "error" in out:  # a streaming endpoint reports its error inside a 200
                        raise StoreUnavailable(f"{host}:{port} {path}: {str(out['error'])[:200]}")
                    return out.get("result", out)  # streaming endpoints wrap it
                last = f"{host}:{port} {path}: HTTP {resp.status} {raw[:200]!r}"
                if resp.status < 500:
                    raise StoreUnavailable(last)  # a request etcd refuses: not retried
            except (OSError, http.client.HTTPException, socket.timeout, ValueError) as exc:
                last = f"{host}:{port} {path}: {exc}"
            tries += 1
            self._next()
            if time.monotonic() >= end:
                raise StoreUnavailable(f"etcd did not answer within the deadline ({last})")
            if tries % len(self.endpoints) == 0:
                time.sleep(0.05)  # every member failed once: wait for an election

    # ---- the operations -----------------------------------------------------
    def txn(self, compare: list[dict], success: list[dict], failure: list[dict] | None = None,
            deadline: float | None = None) -> tuple[bool, dict]:
        out = self.call("/v3/kv/txn", {"compare": compare, "success": success,
                                       "failure": failure or []}, deadline)
        return bool(out.get("succeeded", False)), out

    def range(self, prefix: bytes, page: int = 2000) -> list[KeyValue]:
        """Every key under ``prefix``, in pages, at one revision."""
        return self.range_at(prefix, page)[1]

    def range_at(self, prefix: bytes, page: int = 2000) -> tuple[int, list[KeyValue]]:
        """(the store's revision, every key under ``prefix`` at that revision)."""
        out: list[KeyValue] = []
        start, end, rev = prefix, prefix_end(prefix), 0
        while True:
            body = {"key": b64(start), "range_end": b64(end), "limit": str(page)}
            if rev:
                body["revision"] = str(rev)
            res = self.call("/v3/kv/range", body)
            rev = rev or int(res["header"]["revision"])
            kvs = [kv_of(x) for x in res.get("kvs", [])]
            out.extend(kvs)
            if not res.get("more") or not kvs:
                return rev, out
            start = kvs[-1].key + b"\x00"

    def get(self, key: bytes) -> KeyValue | None:
        res = self.call("/v3/kv/range", {"key": b64(key)})
        kvs = res.get("kvs") or []
        return kv_of(kvs[0]) if kvs else None

    def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease: (id, the TTL etcd granted, which may be above the one asked)."""
        res = self.call("/v3/lease/grant", {"TTL": str(ttl)})
        if "ID" not in res or res.get("error"):
            raise StoreUnavailable(f"lease not granted: {str(res)[:200]}")
        return int(res["ID"]), int(res.get("TTL", ttl))

    def keepalive(self, lease: int, deadline: float | None = None) -> int:
        """The lease's remaining TTL in seconds; 0 or less when it is gone."""
        res = self.call("/v3/lease/keepalive", {"ID": str(lease)}, deadline)
        return int(res.get("TTL", 0))

    def revoke(self, lease: int, deadline: float | None = None) -> None:
        self.call("/v3/lease/revoke", {"ID": str(lease)}, deadline)

    def status(self) -> dict:
        return self.call("/v3/maintenance/status", {})

    def prefer_leader(self) -> bool:
        """Talk to the raft leader from now on, if one answers: a follower forwards
        every write to it, one hop more (about 0.3 ms on loopback)."""
        for i, ep in enumerate(self.endpoints):
            probe = EtcdGateway([ep], timeout=self.timeout, deadline=self.timeout)
            try:
                st = probe.status()
            except StoreUnavailable:
                continue
            finally:
                probe.close()
            if st.get("leader") and st.get("leader") == st.get("header", {}).get("member_id"):
                if i != self._i:
                    self.close()
                    self._i = i
                return True
        return False
