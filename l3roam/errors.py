"""One exception hierarchy for l3roam.

Pure module: imports nothing from the project and no I/O library.
"""

from __future__ import annotations

from dataclasses import dataclass


class L3roamError(Exception):
    """Base of every error l3roam raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file: the dotted key and what is wrong."""

    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.key or '<top>'}: {self.problem}"


class ConfigError(L3roamError):
    """A configuration file is unusable; carries every problem found at once."""

    def __init__(self, source: str, problems: list[ConfigProblem]):
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {p}" for p in self.problems]
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))


class MalformedPacket(L3roamError):
    """A packet could not be decoded; it is dropped and counted, never fatal."""

    def __init__(self, reason: str, offset: int | None = None):
        self.reason = reason
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"malformed packet{where}: {reason}")


class ProtocolError(L3roamError):
    """A peer or we ourselves broke the control protocol."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""


class AuthenticationError(RemoteProtocolError):
    """A control message failed authentication or replay checks.

    ``reason`` is a short token used for counters and logs (``bad_mac``,
    ``replay``, ``stale``, ``unknown_sender``).
    """

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class KernelError(L3roamError):
    """A kernel operation (netlink, sysctl) failed."""

    def __init__(self, operation: str, errno: int | None = None, detail: str = ""):
        self.operation = operation
        self.errno = errno
        msg = operation
        if errno is not None:
            msg += f" (errno {errno})"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class ExternalToolError(L3roamError):
    """A required external program is missing, too old or failed."""


class MasterUnavailable(L3roamError):
    """The lease master did not answer within the retry budget."""


class StoreUnavailable(L3roamError):
    """The replicated store did not answer in time or refused a request; nothing is acknowledged."""


class LeadershipLost(L3roamError):
    """This master is no longer the active one: the store refused its write (fenced)."""


class VmUnavailable(L3roamError):
    """A run needs a virtual machine (a kernel feature the host lacks) and it cannot be started.

    The message names the Debian package that is missing.
    """


class ConvergenceError(ExternalToolError):
    """A testbed's babel did not converge; the message is a short diagnosis (l3roam.testbed.diagnose)."""

    def __init__(self, summary: str, diagnosis: object = None):
        self.diagnosis = diagnosis
        super().__init__(summary)
