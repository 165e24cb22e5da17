"""A worker thread that lives in one network namespace.

Netlink sockets, AF_PACKET sockets and /proc/sys/net all belong to the
namespace of the thread that opens them.  ``NamespaceThread`` enters the
namespace once (``setns(2)`` affects only the calling thread) and runs every
call submitted to it there, so the rest of the process stays where it is.

It also keeps pyroute2's synchronous API, which runs its own asyncio loop,
off the caller's thread: the node agent may call the kernel from inside a
running event loop.  No pyroute2 import here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from l3roam.errors import KernelError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def netns_path(netns: str) -> str:
    return netns if "/" in netns else os.path.join(NETNS_RUN_DIR, netns)


def enter_netns(netns: str) -> None:
    """Move the calling thread into ``netns`` (a name under /run/netns or a path)."""
    path = netns_path(netns)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KernelError(f"open network namespace {netns}", exc.errno, exc.strerror or "") from None
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise KernelError(f"enter network namespace {netns}", err, os.strerror(err))
    finally:
        os.close(fd)


class NamespaceThread:
    """Runs callables on one thread inside ``netns`` (or the current namespace)."""

    def __init__(self, netns: str | None = None, name: str = "l3roam-kernel"):
        self.netns = netns
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future] | None] = queue.SimpleQueue()
        started: Future = Future()
        self._thread = threading.Thread(target=self._main, args=(started,), name=name, daemon=True)
        self._thread.start()
        started.result()  # re-raises a failed setns here

    def _main(self, started: Future) -> None:
        try:
            if self.netns is not None:
                enter_netns(self.netns)
        except BaseException as exc:  # hand the failure to the constructor
            started.set_exception(exc)
            return
        started.set_result(None)
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # delivered to the caller, not swallowed
                fut.set_exception(exc)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the namespace and return its result."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        if not self._thread.is_alive():
            raise KernelError("namespace thread", detail="already stopped")
        fut: Future = Future()
        self._queue.put((lambda: fn(*args, **kwargs), fut))
        return fut.result()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout=5)


def in_each(netns: list[str], fn: Callable[[str], T]) -> dict[str, T]:
    """``fn(name)`` run inside each namespace in turn, on one short-lived thread.

    For things that stay bound to the namespace they were made in (sockets)
    or that go through /proc/sys/net: one thread hops from namespace to
    namespace, so a build of hundreds of namespaces needs no process per
    namespace.  The first failure is raised here, after the thread ended.
    """
    out: dict[str, T] = {}
    failure: list[BaseException] = []

    def work() -> None:
        try:
            for name in netns:
                enter_netns(name)
                out[name] = fn(name)
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    t = threading.Thread(target=work, name="l3roam-netns-walk", daemon=True)
    t.start()
    t.join()
    if failure:
        raise failure[0]
    return out
