"""Control-protocol keys: one per node, named by a key id carried in each datagram (pure).

A ``NodeKey`` is a secret with an id, the node it belongs to and an optional
end of validity.  The master holds a ``KeyRing`` of every node's keys and
looks each datagram's key id up: the HMAC must verify with that key, the
sender id must be the key's node (``wrong_node``: a node speaking as
another), and the key must not have ended (``key_expired``).  Rotation: give a
node a second key (a new id) on the master, switch the node to it, let the
old one end at ``not_after``; both verify during the overlap.

A key with ``node`` None is the shared key of older set-ups: any sender may
use it, so it isolates nobody.  ``KeyRing.shared(secret)`` verifies every key
id with that one secret (tools and tests that hold only the shared key).
"""

from __future__ import annotations

from dataclasses import dataclass

from l3roam.errors import AuthenticationError

MAX_KEY_ID = 32
SHARED_ID = "shared"


@dataclass(frozen=True)
class NodeKey:
    id: str
    secret: bytes
    node: str | None = None  # None: any sender (the shared key)
    not_after: float | None = None  # wall clock seconds; None: no end

    def __post_init__(self) -> None:
        if not 1 <= len(self.id.encode()) <= MAX_KEY_ID:
            raise ValueError(f"key id must be 1..{MAX_KEY_ID} bytes")
        if len(self.secret) < 16:
            raise ValueError("a key must be at least 16 bytes")


class KeyRing:
    def __init__(self, keys: list[NodeKey] | tuple[NodeKey, ...] = (), fallback: NodeKey | None = None,
                 any_id: bool = False):
        self.keys = {k.id: k for k in keys}
        if len(self.keys) != len(keys):
            raise ValueError("key ids must be unique")
        self.fallback = fallback  # the shared key: under the id "shared" (any id with any_id)
        self.any_id = any_id

    @classmethod
    def shared(cls, secret: bytes) -> "KeyRing":
        """Only the shared secret, whatever id a datagram names (tools, tests, old set-ups)."""
        return cls((), NodeKey(SHARED_ID, secret), any_id=True)

    def lookup(self, key_id: str) -> NodeKey:
        k = self.keys.get(key_id)
        if k is None and (key_id == SHARED_ID or self.any_id):
            k = self.fallback
        if k is None:
            raise AuthenticationError("unknown_key", f"key id {key_id!r}")
        return k

    def admit(self, key: NodeKey, sender: str, now: float) -> None:
        """After the HMAC verified: may ``sender`` speak with ``key`` now?"""
        if key.node is not None and key.node != sender:
            raise AuthenticationError("wrong_node", f"key {key.id!r} belongs to {key.node}, not {sender}")
        if key.not_after is not None and now > key.not_after:
            raise AuthenticationError("key_expired", f"key {key.id!r} ended at {key.not_after:.0f}")

    def for_node(self, node: str, now: float) -> NodeKey | None:
        """The key to speak to ``node`` with first: its latest-ending valid key, else the shared one."""
        mine = [k for k in self.keys.values()
                if k.node == node and (k.not_after is None or k.not_after >= now)]
        if mine:
            return max(mine, key=lambda k: float("inf") if k.not_after is None else k.not_after)
        return self.fallback
