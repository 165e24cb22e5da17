"""Per-client roaming state machine: arrival, claim, hand-off phases, stale notices."""

from ipaddress import IPv4Address, IPv6Address

import pytest

from l3roam.core.roaming import (Arrived, Bound, CheckMaster, CheckRerouted, ClaimAnswered, Departed,
                                 GreetClient, MasterSilent,
                                 HandoffSettings, IllegalTransition, InstallRoute, MovedAway,
                                 Redirect, Released, RemoveRedirect, RemoveRoute, Rerouted, RoamingTable,
                                 SendClaim, State)

MAC = "02:00:00:00:00:01"
IP = IPv4Address("10.99.0.50")
SID = IPv6Address("fc00:2::d4")


def table(**kw):
    return RoamingTable(HandoffSettings(**kw))


def serving(t, now=0.0, seq=3):
    t.handle(Bound(MAC, IP, "cell0", seq, 3600.0), now)
    assert t.clients[MAC].state is State.SERVING
    return t


def test_arrival_claims_then_installs_route_and_greets():
    t = table()
    assert t.handle(Arrived(MAC, "cell0"), 0) == [SendClaim(MAC, 0)]
    assert t.clients[MAC].state is State.CLAIMING
    assert t.handle(Arrived(MAC, "cell0"), 0.01) == []  # one claim in flight is enough
    acts = t.handle(ClaimAnswered(MAC, True, IP, 4, 3600.0), 0.02)
    assert acts == [InstallRoute(IP, "cell0"), GreetClient(MAC, IP, "cell0")]
    assert acts[0].mac == MAC  # the station binding goes with the route
    assert t.serving() == {IP: "cell0"}


def test_refused_claim_leaves_client_absent_without_route():
    t = table()
    t.handle(Arrived(MAC, "cell0"), 0)
    assert t.handle(ClaimAnswered(MAC, False, reason="no_lease"), 0.01) == []
    assert t.serving() == {}


def test_move_notice_runs_the_three_handoff_phases():
    t = serving(table(withdraw_delay=0.5, window=2.0))
    acts = t.handle(MovedAway(MAC, "ap2", 4, SID), 10.0)
    assert acts == [Redirect(IP, SID, announced=True)] and acts[0].mac == MAC  # binding leaves
    assert t.tick(10.4) == []
    assert t.tick(10.5) == [Redirect(IP, SID, announced=False), RemoveRedirect(IP, announced=True)]
    assert t.tick(12.0) == [RemoveRedirect(IP, announced=False)]
    assert t.clients[MAC].state is State.ABSENT and t.serving() == {}
    assert t.clients[MAC].seq == 4  # remembered for the next claim


def test_babel_rerouting_withdraws_at_once_and_only_while_the_announced_redirect_waits():
    t = serving(table(withdraw_delay=2.0, window=4.0))
    assert t.handle(Rerouted(MAC), 9.0) == []  # serving: nothing to withdraw
    t.handle(MovedAway(MAC, "ap2", 4, SID), 10.0)
    assert t.handing_off(IP) == MAC
    assert t.handle(Rerouted(MAC), 10.3) == [Redirect(IP, SID, announced=False), RemoveRedirect(IP, announced=True)]
    assert t.handing_off(IP) is None
    assert t.handle(Rerouted(MAC), 10.4) == []  # once
    assert t.tick(12.0) == []  # the timed withdrawal is gone
    assert t.tick(14.0) == [RemoveRedirect(IP, announced=False)]
    assert t.clients[MAC].state is State.ABSENT


def test_rerouting_before_the_demotion_settled_waits_for_it_and_otherwise_babel_is_asked_again():
    t = serving(table(withdraw_delay=2.0, window=4.0, settle=0.4))
    t.handle(MovedAway(MAC, "ap2", 4, SID), 10.0)
    assert t.handle(Rerouted(MAC), 10.1) == []  # babel's table may still be stale
    assert t.tick(10.4) == [Redirect(IP, SID, announced=False), RemoveRedirect(IP, announced=True)]
    t = serving(table(withdraw_delay=2.0, window=4.0, settle=0.4))
    t.handle(MovedAway(MAC, "ap2", 4, SID), 10.0)
    assert t.tick(10.4) == [CheckRerouted(MAC, IP)]
    assert t.handle(Rerouted(MAC), 10.45) == [Redirect(IP, SID, announced=False),
                                             RemoveRedirect(IP, announced=True)]


def test_a_client_back_during_handoff_gets_its_route_before_the_redirect_goes():
    """The route replaces the announced redirect in place: babel sees a metric change, no withdrawal."""
    t = serving(table(), seq=3)
    t.handle(MovedAway(MAC, "ap2", 4, SID), 1.0)
    acts = t.handle(Arrived(MAC, "cell0"), 1.1)
    # the claim first (the old AP's hand-off waits for its answer), then the kernel work here
    assert acts == [SendClaim(MAC, 5), InstallRoute(IP, "cell0"), RemoveRedirect(IP, announced=True)]
    assert t.serving() == {IP: "cell0"}  # announced again while the claim is on its way
    acts = t.handle(ClaimAnswered(MAC, True, IP, 5, 3600.0), 1.2)
    assert acts[0] == InstallRoute(IP, "cell0")
    t = serving(table(), seq=3)
    t.handle(MovedAway(MAC, "ap2", 4, SID), 1.0)
    t.handle(Arrived(MAC, "cell0"), 1.1)
    assert t.handle(ClaimAnswered(MAC, False, reason="no_lease"), 1.2) == [RemoveRoute(IP)]


def test_without_handoff_the_route_goes_at_once():
    t = serving(table(enabled=False))
    acts = t.handle(MovedAway(MAC, "ap2", 4, SID), 1.0)
    assert acts == [RemoveRoute(IP)] and acts[0].mac == MAC
    t = serving(table())
    assert t.handle(MovedAway(MAC, "ap2", 4, None), 1.0) == [RemoveRoute(IP)]


def test_stale_notice_after_the_client_came_back_is_ignored():
    t = serving(table(), seq=6)
    assert t.handle(MovedAway(MAC, "ap2", 5, SID), 1.0) == []
    assert t.serving() == {IP: "cell0"}


def test_client_returning_during_handoff_cancels_it_and_claims_with_next_seq():
    t = serving(table(), seq=3)
    t.handle(MovedAway(MAC, "ap2", 4, SID), 1.0)
    t.tick(1.6)  # quiet redirect in place, announced one removed
    acts = t.handle(Arrived(MAC, "cell0"), 1.7)
    assert acts == [SendClaim(MAC, 5), InstallRoute(IP, "cell0"), RemoveRedirect(IP, announced=False)]
    acts = t.handle(ClaimAnswered(MAC, True, IP, 5, 3600.0), 1.71)
    assert InstallRoute(IP, "cell0") in acts
    assert t.tick(5.0) == []  # the old hand-off timers are gone
    assert t.serving() == {IP: "cell0"}


def test_back_and_forth_moves_leave_exactly_one_announcer():
    """Two nodes, notices delivered late: only the last claimant keeps the route."""
    a, b = table(), table()
    serving(a, seq=1)
    b.handle(Arrived(MAC, "cell0"), 0.1)
    b.handle(ClaimAnswered(MAC, True, IP, 2, 3600.0), 0.11)
    a.handle(Departed(MAC), 0.05)
    a.handle(Arrived(MAC, "cell0"), 0.3)  # back at A before A heard of the move
    a.handle(ClaimAnswered(MAC, True, IP, 3, 3600.0), 0.31)
    a.handle(MovedAway(MAC, "b", 2, SID), 0.32)  # the late notice of the first move
    b.handle(MovedAway(MAC, "a", 3, SID), 0.33)
    for now in (1.0, 3.0, 10.0):
        a.tick(now)
        b.tick(now)
    assert a.serving() == {IP: "cell0"} and b.serving() == {}


def test_departure_without_notice_withdraws_after_timeout_unless_back():
    t = serving(table(departure_timeout=5.0))
    assert t.handle(Departed(MAC), 1.0) == [CheckMaster(MAC)]  # the master answers: nothing more
    assert t.tick(5.9) == []
    assert t.tick(6.0) == [RemoveRoute(IP)]
    t = serving(table(departure_timeout=5.0))
    t.handle(Departed(MAC), 1.0)
    assert t.handle(Arrived(MAC, "cell0"), 2.0) == [SendClaim(MAC, 4)]
    assert t.tick(7.0) == [] and t.serving() == {IP: "cell0"}


def test_release_and_lease_expiry_remove_the_route():
    t = serving(table())
    assert t.handle(Released(MAC), 1.0) == [RemoveRoute(IP)]
    t = table()
    t.handle(Bound(MAC, IP, "cell0", 1, 100.0), 0)
    assert t.tick(100.0) == [RemoveRoute(IP)]


def test_every_state_event_pair_is_defined_or_raises():
    from l3roam.core.roaming import TRANSITIONS
    t = table()

    class Strange:
        mac = MAC

    with pytest.raises(IllegalTransition):
        t.handle(Strange(), 0)
    assert len(TRANSITIONS) == 4 * 8  # states x events (Rerouted and MasterSilent included)


def test_stale_refusal_while_present_reclaims_with_the_masters_number_plus_one():
    """A node that last knew seq 2 sees the client again after moves elsewhere (seq 3)."""
    t = table()
    t.handle(Bound(MAC, IP, "cell0", 1, 3600.0), 0)
    t.handle(Departed(MAC), 1)
    t.handle(MovedAway(MAC, "ap2", 2, SID), 1.01)
    t.tick(5)
    assert t.handle(Arrived(MAC, "cell0"), 9) == [SendClaim(MAC, 3)]
    acts = t.handle(ClaimAnswered(MAC, False, seq=3, reason="stale_sequence"), 9.01)
    assert acts == [SendClaim(MAC, 4)]
    acts = t.handle(ClaimAnswered(MAC, True, IP, 4, 3600.0), 9.02)
    assert InstallRoute(IP, "cell0") in acts


def test_stale_refusal_after_the_station_left_gives_up_and_reclaims_are_capped():
    t = table(max_reclaims=2, reclaim_window=10.0)
    t.handle(Arrived(MAC, "cell0"), 0)
    t.handle(Departed(MAC), 0.01)
    assert t.handle(ClaimAnswered(MAC, False, seq=7, reason="stale_sequence"), 0.02) == []
    assert t.clients[MAC].state is State.ABSENT
    t.handle(Arrived(MAC, "cell0"), 1)
    sent = [t.handle(ClaimAnswered(MAC, False, seq=9 + i, reason="stale_sequence"), 1 + i / 10)
            for i in range(4)]
    assert sent[0] and sent[1] and sent[2] == []


def test_master_silent_a_known_lease_is_served_provisionally_then_confirmed():
    """A new AP knows the client's lease (lease sync): it serves it once the claim waited 0.3 s."""
    t = table(provisional_after=0.3, reclaim_interval=1.0)
    assert t.handle(Arrived(MAC, "cell0", IP, 3600.0, seq=4), 10.0) == [SendClaim(MAC, 5)]
    assert t.tick(10.29) == []
    acts = t.tick(10.3)
    assert acts == [InstallRoute(IP, "cell0"), GreetClient(MAC, IP, "cell0")] and acts[0].mac == MAC
    assert t.clients[MAC].provisional
    # the claim gives up (master silent): keep serving, claim again a second later
    assert t.handle(ClaimAnswered(MAC, False, reason="unavailable"), 12.0) == []
    assert t.clients[MAC].state is State.SERVING and t.serving() == {IP: "cell0"}
    assert t.tick(13.0) == [SendClaim(MAC, 5)]
    # the master is back and confirms: an ordinary client again
    t.handle(ClaimAnswered(MAC, True, IP, 5, 3600.0), 13.1)
    assert not t.clients[MAC].provisional and t.clients[MAC].seq == 5


def test_provisional_service_ends_when_the_master_refuses():
    t = table(provisional_after=0.3)
    t.handle(Arrived(MAC, "cell0", IP, 3600.0), 0.0)
    t.tick(0.3)
    assert t.handle(ClaimAnswered(MAC, False, reason="no_lease"), 0.5) == [RemoveRoute(IP)]
    assert t.serving() == {}


def test_no_known_lease_or_an_expired_one_is_never_served_without_the_master():
    t = table(provisional_after=0.3)
    t.handle(Arrived(MAC, "cell0"), 0.0)
    assert t.tick(1.0) == []
    t2 = table(provisional_after=0.3)
    t2.handle(Arrived(MAC, "cell0", IP, 5.0), 6.0)  # the lease ended before the arrival
    assert t2.tick(7.0) == [] and t2.serving() == {}
    t3 = table(provisional_after=None)  # switched off
    t3.handle(Arrived(MAC, "cell0", IP, 3600.0), 0.0)
    assert t3.tick(1.0) == []


def test_serve_known_at_once_installs_the_known_lease_with_the_claim_sent_first():
    t = table(provisional_after=0.3, serve_known_at_once=True)
    acts = t.handle(Arrived(MAC, "cell0", IP, 100.0, 4), 1.0)
    assert acts == [SendClaim(MAC, 5), InstallRoute(IP, "cell0", MAC), GreetClient(MAC, IP, "cell0")]
    assert t.serving() == {IP: "cell0"} and t.clients[MAC].provisional
    assert t.handle(ClaimAnswered(MAC, True, IP, 5, 100.0), 1.01)[0] == InstallRoute(IP, "cell0", MAC)
    assert not t.clients[MAC].provisional


def test_serve_known_at_once_is_undone_by_a_refusal_and_needs_a_known_lease():
    t = table(provisional_after=0.3, serve_known_at_once=True)
    t.handle(Arrived(MAC, "cell0", IP, 100.0, 4), 1.0)
    assert t.handle(ClaimAnswered(MAC, False, None, 9, 0.0, "not_leased"), 1.01) == [RemoveRoute(IP, MAC)]
    assert t.serving() == {}
    t2 = table(provisional_after=0.3, serve_known_at_once=True)
    assert t2.handle(Arrived(MAC, "cell0"), 1.0) == [SendClaim(MAC, 0)]  # nothing known: claim only
    t3 = table(provisional_after=0.3, serve_known_at_once=True)
    assert t3.handle(Arrived(MAC, "cell0", IP, 0.5, 4), 1.0) == [SendClaim(MAC, 0)]  # known, expired
    t4 = table(provisional_after=None, serve_known_at_once=True)  # serving known leases switched off
    assert t4.handle(Arrived(MAC, "cell0", IP, 100.0, 4), 1.0) == [SendClaim(MAC, 5)]


def test_a_master_answer_in_time_means_no_provisional_route():
    t = table(provisional_after=0.3)
    t.handle(Arrived(MAC, "cell0", IP, 3600.0), 0.0)
    t.handle(ClaimAnswered(MAC, False, seq=9, reason="stale_sequence"), 0.01)  # present: reclaims
    t.handle(ClaimAnswered(MAC, True, IP, 10, 3600.0), 0.02)
    assert t.tick(1.0) == [] and not t.clients[MAC].provisional


def test_old_ap_withdraws_when_the_station_left_and_the_master_is_silent():
    t = serving(table(departure_timeout=5.0))
    assert t.handle(Departed(MAC), 1.0) == [CheckMaster(MAC)]
    acts = t.handle(MasterSilent(MAC), 1.5)
    assert acts == [RemoveRoute(IP)] and acts[0].mac == MAC and t.serving() == {}
    # a station that came back meanwhile keeps its route
    t = serving(table())
    t.handle(Departed(MAC), 1.0)
    t.handle(Arrived(MAC, "cell0"), 1.2)
    assert t.handle(MasterSilent(MAC), 1.5) == []
