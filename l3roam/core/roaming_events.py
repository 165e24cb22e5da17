"""Actions and events of the per-client roaming state machine (``roaming.py``), pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address


# ---- actions (imperative: the adapter does them) ---------------------------
@dataclass(frozen=True)
class SendClaim:
    mac: str
    seq: int


@dataclass(frozen=True)
class InstallRoute:
    """The client's /32 (and its station binding: ``mac`` may source ``ip``)."""

    ip: IPv4Address
    interface: str
    mac: str = field(default="", compare=False)


@dataclass(frozen=True)
class RemoveRoute:
    """The client's /32 goes (and its station binding)."""

    ip: IPv4Address
    mac: str = field(default="", compare=False)


@dataclass(frozen=True)
class Redirect:
    """Send packets for ``ip`` to ``sid``; ``announced``: as our protocol (babel sees it)."""

    ip: IPv4Address
    sid: IPv6Address
    announced: bool
    mac: str = field(default="", compare=False)  # the station binding goes with the client


@dataclass(frozen=True)
class RemoveRedirect:
    ip: IPv4Address
    announced: bool


@dataclass(frozen=True)
class CheckMaster:
    """Ask the master about ``mac`` with a short deadline (the station left; is the master there?)."""

    mac: str


@dataclass(frozen=True)
class GreetClient:
    """Tell an arriving client the gateway's MAC (gratuitous ARP)."""

    mac: str
    ip: IPv4Address
    interface: str


# ---- events (past tense) ----------------------------------------------------
@dataclass(frozen=True)
class Arrived:
    mac: str
    interface: str
    # a lease the master gave this MAC, known here (lease sync, an earlier claim or bind):
    # what this node may serve while the master does not answer
    lease_ip: IPv4Address | None = None
    lease_expires: float = 0.0
    seq: int = 0


@dataclass(frozen=True)
class Departed:
    mac: str


@dataclass(frozen=True)
class ClaimAnswered:
    mac: str
    ok: bool
    ip: IPv4Address | None = None
    seq: int = 0
    lease_expires: float = 0.0
    reason: str = ""  # refused: no_lease, stale_sequence; "unavailable": no answer


@dataclass(frozen=True)
class Bound:
    mac: str
    ip: IPv4Address
    interface: str
    seq: int
    lease_expires: float


@dataclass(frozen=True)
class Released:
    mac: str


@dataclass(frozen=True)
class MovedAway:
    mac: str
    new_node: str
    seq: int
    sid: IPv6Address | None


@dataclass(frozen=True)
class MasterSilent:
    """The master did not answer a ``CheckMaster`` in time."""

    mac: str
