"""Served pairs (neighbour + filter element) and admitted pairs (element only) at one AP."""

from ipaddress import IPv4Address

from l3roam.kernel.fake import FakeKernel
from l3roam.node.binding import StationBinding
from l3roam.node.lease_sync import KnownLeases

A, B = IPv4Address("10.99.0.2"), IPv4Address("10.99.0.3")
M1, M2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def binding() -> StationBinding:
    k = FakeKernel(["cell0"])
    k.guard_setup("cell0", IPv4Address("10.99.0.1"))
    return StationBinding(k, "cell0", True)


def test_an_admitted_pair_passes_before_its_client_is_served_and_stays_after_it_left():
    b = binding()
    b.admit({A: M1})
    assert b.kernel.guard_allows(A, M1) and not b.kernel.guard_allows(A, M2)
    assert b.kernel.bound == {}  # no neighbour entry: not served here
    b.bind(A, M1)
    assert b.kernel.bound == {A: M1}
    b.unbind(A)  # the client roamed away: the neighbour goes, the lease stays admitted
    assert b.kernel.bound == {} and b.kernel.guard_allows(A, M1)


def test_admit_reconciles_and_never_drops_a_served_pair():
    b = binding()
    b.admit({A: M1, B: M2})
    b.bind(B, M2)
    b.admit({A: M2})  # A re-leased to M2, B's lease gone from the master's table
    assert b.kernel.guard_allows(A, M2) and not b.kernel.guard_allows(A, M1)
    assert b.kernel.guard_allows(B, M2)  # still served here: the binding decides, not the sync
    b.unbind(B)
    assert not b.kernel.guard_allows(B, M2)


def test_admit_one_replaces_the_address_older_mac():
    b = binding()
    b.admit_one(A, M1)
    b.admit_one(A, M2)
    assert b.kernel.guard_allows(A, M2) and not b.kernel.guard_allows(A, M1)
    calls = len(b.kernel.calls)
    b.admit_one(A, M2)  # known: no kernel work
    assert len(b.kernel.calls) == calls


def test_disabled_binding_admits_nothing():
    k = FakeKernel(["cell0"])
    b = StationBinding(k, "cell0", False)
    b.admit({A: M1})
    b.admit_one(B, M2)
    assert k.admitted == set()


def test_known_pairs_are_the_unexpired_leases_latest_ending_first():
    known = KnownLeases(master=None, period=0)
    known.learn(M1, A, expires=50.0)
    known.learn(M2, A, expires=80.0)  # the address was leased again, to M2
    known.learn("02:00:00:00:00:09", B, expires=5.0)
    assert known.pairs(now=10.0) == {A: M2}


def test_a_lease_ended_here_loses_its_admission_with_its_binding():
    b = binding()
    b.admit_one(A, M1)
    b.bind(A, M1)
    b.unadmit(A)  # released: the order of the agent, then the route and binding go
    assert b.kernel.guard_allows(A, M1)  # still served until unbind
    b.unbind(A)
    assert not b.kernel.guard_allows(A, M1) and b.kernel.bound == {}
