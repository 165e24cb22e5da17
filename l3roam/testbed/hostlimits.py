"""Raise the kernel's global limits a testbed needs, and put them back.

``net.ipv{4,6}.neigh.default.gc_thresh1/2/3`` exist only in the root
namespace and bound the neighbour entries of *all* namespaces together
(defaults 128/512/1024); a whole community mesh needs several thousand
(l3roam.testbed.sizing.neigh_entries).  ``net.core.rmem_default`` (also
global) is the receive buffer babeld's socket gets; a gateway with hundreds
of neighbours needs more than the default.  ``up`` raises them (never
lowers) and ``down`` / ``clean`` restore them.

Several testbeds may run at once (different prefixes): the state file
``/run/l3roam/neigh-limits.json`` (under an flock) keeps the original values
and what each prefix asked for; the kernel gets the maximum of all, and the
originals come back when the last holder leaves.
"""

from __future__ import annotations

import fcntl
import json
import logging
from pathlib import Path

from l3roam.kernel.sysctl import read_sysctl, write_sysctl
from l3roam.log import event
from l3roam.testbed.sizing import merge_limits

log = logging.getLogger(__name__)

STATE = Path("/run/l3roam/host-limits.json")
GC3 = "net.ipv6.neigh.default.gc_thresh3"


def current(keys) -> dict[str, int]:
    return {k: int(read_sysctl(k)) for k in keys}


def _apply(values: dict[str, int]) -> None:
    now = current(values)
    for key, value in values.items():
        if now.get(key) != value:
            write_sysctl(key, value)


def _locked(fn):
    def wrapper(*args, **kwargs):
        STATE.parent.mkdir(parents=True, exist_ok=True)
        with open(STATE.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return fn(*args, **kwargs)
    return wrapper


def _load() -> dict:
    try:
        return json.loads(STATE.read_text())
    except (OSError, ValueError):
        return {}


@_locked
def acquire(prefix: str, wanted: dict[str, int]) -> dict[str, int]:
    """Hold sysctls of at least ``wanted`` (full key -> value) for ``prefix``; the values now in force."""
    state = _load()
    if not state.get("holders"):
        state = {"original": {}, "holders": {}}
    for key, value in current([k for k in wanted if k not in state["original"]]).items():
        state["original"][key] = value
    state["holders"][prefix] = dict(wanted)
    values = merge_limits(state["original"], *state["holders"].values())
    _apply(values)
    STATE.write_text(json.dumps(state, indent=1))
    event(log, "host_limits_raised", prefix=prefix, gc_thresh3=values.get(GC3),
          rmem_default=values.get("net.core.rmem_default"))
    return values


@_locked
def release(prefix: str) -> dict[str, int] | None:
    """Drop ``prefix``'s hold; the originals come back when nobody holds any.  None: it held nothing."""
    state = _load()
    holders = state.get("holders", {})
    if prefix not in holders:
        return None
    del holders[prefix]
    values = merge_limits(state["original"], *holders.values())
    _apply(values)
    if holders:
        STATE.write_text(json.dumps(state, indent=1))
    else:
        STATE.unlink(missing_ok=True)
    event(log, "host_limits_released", prefix=prefix, gc_thresh3=values.get(GC3), restored=not holders)
    return values
