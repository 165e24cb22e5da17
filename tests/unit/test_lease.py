"""Allocation, stickiness, reservations, exclusions, exhaustion, expiry, decline."""

from ipaddress import IPv4Address as A, IPv4Network as N

import pytest

from l3roam.core.lease import LeasePolicy, LeaseState, LeaseTable, Refusal

M1, M2, M3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
POLICY = LeasePolicy(lease_seconds=100, offer_hold_seconds=10, grace_seconds=50,
                     quarantine_seconds=30)


def table(net="10.0.0.0/29", excluded=(), reservations=None, policy=POLICY):
    return LeaseTable([N(net)], {A(x) for x in excluded}, reservations or {}, policy)


def test_first_offer_skips_network_and_excluded_addresses():
    t = table(excluded=["10.0.0.1"])
    lease = t.offer(M1, None, now=0)
    assert lease.ip == A("10.0.0.2")
    assert lease.state is LeaseState.OFFERED and lease.expires == 10


def test_bind_after_offer_keeps_the_address_and_sets_lease_time():
    t = table()
    offered = t.offer(M1, None, now=0)
    bound = t.bind(M1, offered.ip, now=1)
    assert bound.ip == offered.ip and bound.state is LeaseState.BOUND and bound.expires == 101


def test_same_mac_gets_same_address_after_release_and_expiry():
    t = table()
    ip = t.bind(M1, None, now=0).ip
    t.release(M1, ip, now=5)
    assert t.offer(M1, None, now=6).ip == ip
    t.bind(M1, ip, now=6)
    t.expire(now=200)
    # long after lease and grace, the MAC still gets its last address when nobody took it
    assert t.offer(M1, None, now=10_000).ip == ip


def test_other_macs_do_not_get_a_remembered_address_while_free_ones_remain():
    t = table()
    ip1 = t.bind(M1, None, now=0).ip
    t.release(M1, ip1, now=1)
    assert t.offer(M2, None, now=1000).ip != ip1


def test_address_held_through_grace_period_then_reused_when_pool_is_full():
    t = table("10.0.0.0/30")  # two usable addresses
    a = t.bind(M1, None, now=0).ip
    b = t.bind(M2, None, now=0).ip
    assert {a, b} == {A("10.0.0.1"), A("10.0.0.2")}
    t.expire(now=101)
    # M1's lease ended at 100; grace runs to 150: M3 must be refused before that
    r = t.offer(M3, None, now=120)
    assert isinstance(r, Refusal) and r.reason == "pool_exhausted"
    c = t.offer(M3, None, now=151)
    assert c.ip in (a, b)
    assert t.lease_of(M1 if c.ip == a else M2) is None  # the old owner forgot it
    assert [f.mac for f in t.forgotten] == [M1 if c.ip == a else M2]


def test_pool_exhaustion_is_a_refusal_not_an_exception():
    t = table("10.0.0.0/30")
    t.bind(M1, None, now=0)
    t.bind(M2, None, now=0)
    r = t.offer(M3, None, now=1)
    assert r == Refusal("pool_exhausted", "no free address in any pool")


def test_requested_address_honoured_when_free_refused_when_taken():
    t = table()
    assert t.offer(M1, A("10.0.0.5"), now=0).ip == A("10.0.0.5")
    t.bind(M1, A("10.0.0.5"), now=0)
    # M2 asks for M1's address: OFFER ignores the wish, REQUEST is refused
    assert t.offer(M2, A("10.0.0.5"), now=1).ip != A("10.0.0.5")
    r = t.bind(M2, A("10.0.0.5"), now=1)
    assert isinstance(r, Refusal) and r.reason == "in_use"


def test_request_outside_pool_and_excluded_refused():
    t = table(excluded=["10.0.0.3"])
    assert t.bind(M1, A("192.168.1.1"), now=0).reason == "not_in_pool"
    assert t.bind(M1, A("10.0.0.3"), now=0).reason == "excluded"
    assert t.bind(M1, A("10.0.0.0"), now=0).reason == "not_in_pool"  # network address
    assert t.bind(M1, A("10.0.0.7"), now=0).reason == "not_in_pool"  # broadcast


def test_reservation_goes_to_its_mac_only():
    t = table(reservations={M2: A("10.0.0.1")})
    assert t.offer(M1, None, now=0).ip == A("10.0.0.2")
    assert t.bind(M1, A("10.0.0.1"), now=0).reason == "reserved"
    assert t.offer(M2, None, now=0).ip == A("10.0.0.1")
    assert t.bind(M2, A("10.0.0.4"), now=0).reason == "reserved"


def test_offer_hold_expires_and_frees_the_address():
    t = table("10.0.0.0/30")
    t.offer(M1, None, now=0)
    t.bind(M2, None, now=0)
    assert t.offer(M3, None, now=5).reason == "pool_exhausted"
    changed = t.expire(now=11)
    assert [lease.mac for lease in changed] == [M1]
    assert t.offer(M3, None, now=11).ip == A("10.0.0.1")


def test_expiry_reports_each_lapsed_lease_once_and_skips_renewed_ones():
    t = table()
    t.bind(M1, None, now=0)
    t.bind(M2, None, now=0)
    t.bind(M2, None, now=50)  # renewed: expires 150
    assert [lease.mac for lease in t.expire(now=100)] == [M1]
    assert t.expire(now=100) == []
    assert t.lease_of(M1).state is LeaseState.EXPIRED
    assert t.next_expiry() == 150


def test_decline_quarantines_the_address():
    t = table()
    ip = t.bind(M1, None, now=0).ip
    assert t.decline(M1, ip, now=1).state is LeaseState.DECLINED
    second = t.offer(M1, None, now=2)
    assert second.ip != ip
    assert t.bind(M2, ip, now=2).reason == "quarantined"
    t.end_quarantine(now=40)
    assert t.bind(M2, ip, now=40).ip == ip


def test_release_of_a_foreign_address_is_refused_and_release_is_idempotent():
    t = table()
    ip = t.bind(M1, None, now=0).ip
    assert t.release(M2, ip, now=1).reason == "no_lease"
    assert t.release(M1, ip, now=1).state is LeaseState.RELEASED
    assert t.release(M1, ip, now=2).state is LeaseState.RELEASED


@pytest.mark.parametrize("n", [1, 50, 200])
def test_no_address_is_ever_given_to_two_live_macs(n):
    t = table("10.0.0.0/24")
    macs = [f"02:00:00:00:01:{i:02x}" for i in range(n)]
    ips = [t.bind(m, None, now=0).ip for m in macs]
    assert len(set(ips)) == n
