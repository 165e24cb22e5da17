"""Move sequence numbers: the highest wins (RFC 7432 §15)."""

from l3roam.core.location import ClaimAccepted, ClaimRefused, Location, decide_claim

MAC = "02:00:00:00:00:01"


def test_first_claim_creates_location_with_seq_1():
    d = decide_claim(None, MAC, "ap1", 0, now=1)
    assert isinstance(d, ClaimAccepted) and d.location == Location(MAC, "ap1", 1, 1)
    assert not d.moved


def test_claim_with_unknown_seq_from_other_node_is_a_move_with_next_seq():
    cur = Location(MAC, "ap1", 4, 0)
    d = decide_claim(cur, MAC, "ap2", 0, now=5)
    assert d.moved and d.location.seq == 5 and d.previous == cur


def test_higher_seq_wins_lower_or_equal_is_refused_with_current_location():
    cur = Location(MAC, "ap2", 5, 0)
    assert decide_claim(cur, MAC, "ap1", 6, now=1).location.node == "ap1"
    for stale in (5, 3):
        d = decide_claim(cur, MAC, "ap1", stale, now=1)
        assert isinstance(d, ClaimRefused) and d.reason == "stale_sequence" and d.current == cur


def test_same_node_claim_is_an_idempotent_refresh():
    cur = Location(MAC, "ap1", 3, 0)
    d = decide_claim(cur, MAC, "ap1", 0, now=9)
    assert d.location == cur and not d.moved
    assert decide_claim(cur, MAC, "ap1", 7, now=9).location.seq == 7


def test_back_and_forth_moves_end_with_the_last_claimant():
    loc = None
    for node in ["ap1", "ap2", "ap1", "ap2", "ap1"]:
        loc = decide_claim(loc, MAC, node, 0, now=0).location
    assert loc.node == "ap1" and loc.seq == 5


def test_once_the_serving_node_lost_the_station_an_older_claim_is_the_next_move():
    cur = Location(MAC, "ap2", 5, 0)
    d = decide_claim(cur, MAC, "ap1", 3, now=1, departed_seq=5)
    assert isinstance(d, ClaimAccepted) and d.moved and d.location == Location(MAC, "ap1", 6, 1)
    # a departure reported at an earlier move says nothing about the current one
    assert isinstance(decide_claim(cur, MAC, "ap1", 3, now=1, departed_seq=4), ClaimRefused)
    assert isinstance(decide_claim(cur, MAC, "ap1", 3, now=1), ClaimRefused)
