"""Which master is active: a leader key in etcd held by an etcd lease.

Every master campaigns: it creates ``<prefix>leader`` with its name only if the
key does not exist (a transaction comparing its creation revision with 0),
attached to an etcd lease it keeps alive.  The winner is active; the others
are standbys that look at the key every ``poll`` seconds and campaign again
when it is gone: when the active master resigns (deletes it at once) or dies
(its lease expires ``ttl`` seconds after its last keep-alive, rounded up by
etcd to its own minimum).

The winner learns the key's creation revision; every write it makes compares
it (``EtcdStore``), so a master that lost the key cannot write any more even
before it notices.  It notices through ``lost``: set when a keep-alive says the
lease is gone, or when no keep-alive got through for ``ttl`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time

from l3roam.errors import StoreUnavailable
from l3roam.log import event
from l3roam.master.etcd_gateway import EtcdGateway, created_at, put

log = logging.getLogger("l3roam.master")


class Leadership:
    def __init__(self, endpoints: list[tuple[str, int]], prefix: str, name: str, ttl: int = 1,
                 timeout: float = 1.0, poll: float = 0.1):
        self.endpoints, self.prefix, self.name = endpoints, prefix, name
        self.key = prefix.encode() + b"leader"
        self.ttl, self.timeout, self.poll = ttl, timeout, poll
        self.lease = 0
        self.granted_ttl = ttl
        self.revision = 0
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _gateway(self) -> EtcdGateway:
        return EtcdGateway(self.endpoints, timeout=self.timeout, deadline=self.timeout)

    def campaign(self, stop: threading.Event) -> int | None:
        """Block until this master holds the leader key; its creation revision (None: stopped)."""
        gw = self._gateway()
        holder: bytes | None = None
        unavailable_logged = 0.0
        try:
            while not stop.is_set():
                try:
                    cur = gw.get(self.key)
                    if cur is None:
                        lease, ttl = gw.grant(self.ttl)
                        ok, res = gw.txn([created_at(self.key, 0)],
                                         [put(self.key, self.name.encode(), lease)])
                        if ok:
                            self.lease, self.granted_ttl = lease, ttl
                            self.revision = int(res["header"]["revision"])
                            self._start_keepalive()
                            event(log, "master_active", master=self.name, revision=self.revision,
                                  ttl=ttl, previous=(holder or b"-").decode(errors="replace"))
                            return self.revision
                        try:
                            gw.revoke(lease)
                        except StoreUnavailable:
                            pass  # it expires on its own
                    elif cur.value != holder:
                        holder = cur.value
                        event(log, "master_standby", master=self.name,
                              active=holder.decode(errors="replace"))
                except StoreUnavailable as exc:
                    if time.monotonic() - unavailable_logged > 5:
                        unavailable_logged = time.monotonic()
                        event(log, "store_unavailable", level=logging.WARNING, detail=str(exc))
                stop.wait(self.poll)
            return None
        finally:
            gw.close()

    def _start_keepalive(self) -> None:
        self._thread = threading.Thread(target=self._keepalive, name="leader-keepalive", daemon=True)
        self._thread.start()

    def _keepalive(self) -> None:
        gw = self._gateway()
        period = max(0.1, self.granted_ttl / 4)
        last_ok = time.monotonic()
        try:
            while not self._stop.wait(period):
                left = self.granted_ttl - (time.monotonic() - last_ok)
                if left <= 0:
                    self._lose("no keep-alive got through within the lease's TTL")
                    return
                try:
                    if gw.keepalive(self.lease, deadline=min(left, self.timeout)) <= 0:
                        self._lose("the store says the lease has expired")
                        return
                    last_ok = time.monotonic()
                except StoreUnavailable:
                    continue
        finally:
            gw.close()

    def _lose(self, why: str) -> None:
        event(log, "master_demoted", level=logging.WARNING, master=self.name, reason=why)
        self.lost.set()

    def resign(self) -> None:
        """Stop the keep-alives and delete the key now, so a standby need not wait for the TTL."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.lease and not self.lost.is_set():
            gw = self._gateway()
            try:
                gw.revoke(self.lease)
            except StoreUnavailable:
                pass  # the lease expires on its own
            finally:
                gw.close()
        self.lease = 0
