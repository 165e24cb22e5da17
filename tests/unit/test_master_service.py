"""The master's request handling, without sockets: idempotency, moves, notices."""

from ipaddress import IPv4Address, IPv4Network, IPv6Address

from l3roam.core.lease import LeasePolicy, LeaseState, LeaseTable
from l3roam.master.service import MasterService
from l3roam.master.store import MemoryStore
from l3roam.metrics import Registry
from l3roam.proto.control import Field, LeaseOp, Message, MessageType, Status

MAC = "02:00:00:00:00:01"
PEER = ("127.0.0.1", 5000)


def service(store=None):
    store = store or MemoryStore()
    table = LeaseTable([IPv4Network("10.99.0.0/24")], {IPv4Address("10.99.0.1")}, {},
                       LeasePolicy(lease_seconds=600))
    return MasterService(table, store.load(), Registry("t")), store


_rid = [0]


def req(svc, sender, mtype, fields, now=100.0, rid=None):
    if rid is None:
        _rid[0] += 1
        rid = _rid[0]
    msg = Message(mtype, sender, rid, fields, seq=_rid[0])
    return svc.handle(msg, PEER, now)


def lease(svc, sender, op, mac=MAC, now=100.0, extra=None):
    return req(svc, sender, MessageType.LEASE, {Field.OP: int(op), Field.MAC: mac, **(extra or {})}, now)


def test_offer_then_bind_records_lease_and_location():
    svc, store = service()
    offer = lease(svc, "ap1", LeaseOp.OFFER)
    assert offer[Field.STATUS] == Status.OK and offer[Field.IP] == IPv4Address("10.99.0.2")
    ack = lease(svc, "ap1", LeaseOp.BIND, extra={Field.IP: offer[Field.IP]})
    assert ack[Field.STATE] == LeaseState.BOUND and ack[Field.SEQ] == 1
    store.commit(svc.take_batch())
    assert [(x.mac, x.node, x.seq) for x in store.state.locations] == [(MAC, "ap1", 1)]
    assert store.state.leases[0].state is LeaseState.BOUND


def test_repeated_request_id_is_answered_from_cache_without_executing_again():
    svc, _ = service()
    fields = {Field.OP: int(LeaseOp.OFFER), Field.MAC: MAC}
    first = req(svc, "ap1", MessageType.LEASE, fields, rid=9000)
    again = req(svc, "ap1", MessageType.LEASE, fields, rid=9000)
    assert first is again
    assert svc.metrics.value("duplicates_total") == 1
    assert svc.metrics.value("requests_total", type="lease") == 1


def test_claim_by_another_node_moves_client_and_queues_notice_to_old_node():
    svc, store = service()
    req(svc, "ap2", MessageType.HELLO, {Field.HANDOFF: IPv6Address("fc00:2::d4")})
    req(svc, "ap1", MessageType.HELLO, {})
    ip = lease(svc, "ap1", LeaseOp.BIND)[Field.IP]
    svc.take_batch()
    ans = req(svc, "ap2", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 0}, now=101)
    assert ans[Field.STATUS] == Status.OK and ans[Field.IP] == ip
    assert ans[Field.NODE] == "ap2" and ans[Field.PREV_NODE] == "ap1" and ans[Field.SEQ] == 2
    due = svc.due_notices(101)
    assert len(due) == 1
    msg, node = svc.notice_message(due[0])
    assert node.node == "ap1" and msg.type is MessageType.MOVED
    assert msg.fields[Field.NODE] == "ap2" and msg.fields[Field.HANDOFF] == IPv6Address("fc00:2::d4")
    assert msg.fields[Field.SEQ] == 2
    batch = svc.take_batch()
    assert batch.notices and batch.locations[MAC].node == "ap2"
    # retried with backoff until acknowledged
    assert svc.due_notices(101.01) == []
    assert len(svc.due_notices(101.06)) == 1
    ack = Message(MessageType.REPLY, "ap1", msg.request_id, {Field.STATUS: Status.OK}, response=True)
    assert svc.handle(ack, PEER, 101.1) is None
    assert svc.pending == {} and svc.take_batch().notices == {f"{MAC}|ap1": None}


def test_ack_from_the_wrong_node_does_not_clear_a_notice():
    svc, _ = service()
    lease(svc, "ap1", LeaseOp.BIND)
    req(svc, "ap2", MessageType.CLAIM, {Field.MAC: MAC})
    (p,) = svc.pending.values()
    svc.handle(Message(MessageType.REPLY, "ap3", p.request_id, {}, response=True), PEER, 100)
    assert len(svc.pending) == 1


def test_notice_gives_up_after_timeout():
    svc, _ = service()
    lease(svc, "ap1", LeaseOp.BIND)
    req(svc, "ap2", MessageType.CLAIM, {Field.MAC: MAC})
    assert svc.due_notices(100 + svc.notice_timeout + 1) == []
    assert svc.pending == {} and svc.metrics.value("notices_total", outcome="timeout") == 1


def test_stale_claim_is_refused_and_counted():
    svc, _ = service()
    lease(svc, "ap1", LeaseOp.BIND)
    req(svc, "ap2", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 5})
    ans = req(svc, "ap1", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 4})
    assert ans[Field.STATUS] == Status.REFUSED and ans[Field.REASON] == "stale_sequence"
    assert ans[Field.NODE] == "ap2" and ans[Field.SEQ] == 5
    assert svc.metrics.value("refusals_total", reason="stale_sequence") == 1


def test_a_query_from_the_serving_node_is_a_departure_and_lets_an_older_claim_through():
    svc, _ = service()
    lease(svc, "ap1", LeaseOp.BIND)
    req(svc, "ap2", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 5})
    req(svc, "ap3", MessageType.QUERY, {Field.MAC: MAC})  # not the serving node: no departure
    assert req(svc, "ap1", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 4})[Field.REASON] == "stale_sequence"
    req(svc, "ap2", MessageType.QUERY, {Field.MAC: MAC})  # ap2 lost the station
    ans = req(svc, "ap1", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 4})
    assert ans[Field.STATUS] == Status.OK and ans[Field.NODE] == "ap1" and ans[Field.SEQ] == 6
    assert ans[Field.PREV_NODE] == "ap2"
    # and the next stale claim from elsewhere is refused again: ap1 has not reported it gone
    assert req(svc, "ap3", MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: 2})[Field.REASON] == "stale_sequence"


def test_claim_without_a_bound_lease_is_refused():
    svc, _ = service()
    ans = req(svc, "ap1", MessageType.CLAIM, {Field.MAC: MAC})
    assert ans[Field.REASON] == "no_lease"


def test_decline_quarantines_and_persists():
    svc, store = service()
    ip = lease(svc, "ap1", LeaseOp.BIND)[Field.IP]
    ans = lease(svc, "ap1", LeaseOp.DECLINE, extra={Field.IP: ip})
    assert ans[Field.STATUS] == Status.OK
    store.commit(svc.take_batch())
    assert ip in store.state.quarantine
    assert lease(svc, "ap1", LeaseOp.OFFER)[Field.IP] != ip


def test_pool_exhaustion_is_a_refusal_with_reason():
    svc, _ = service()
    for i in range(253):  # .2 .. .254
        assert lease(svc, "ap1", LeaseOp.BIND, mac=f"02:00:00:00:01:{i:02x}")[Field.STATUS] == Status.OK
    ans = lease(svc, "ap1", LeaseOp.OFFER, mac="02:00:00:00:02:00")
    assert ans[Field.STATUS] == Status.REFUSED and ans[Field.REASON] == "pool_exhausted"


def test_state_survives_a_restart_from_the_store():
    svc, store = service()
    ip = lease(svc, "ap1", LeaseOp.BIND)[Field.IP]
    store.commit(svc.take_batch())
    again, _ = service(store)
    assert again.table.lease_of(MAC).ip == ip and again.locations[MAC].node == "ap1"
    assert lease(again, "ap1", LeaseOp.OFFER, mac="02:00:00:00:00:99")[Field.IP] != ip


def test_query_by_mac_and_ip_and_list_pages():
    svc, _ = service()
    ip = lease(svc, "ap1", LeaseOp.BIND, extra={Field.HOSTNAME: "phone"})[Field.IP]
    by_ip = req(svc, "ctl", MessageType.QUERY, {Field.IP: ip})
    assert by_ip[Field.MAC] == MAC and by_ip[Field.NODE] == "ap1" and by_ip[Field.HOSTNAME] == "phone"
    assert req(svc, "ctl", MessageType.QUERY, {Field.MAC: "02:99:99:99:99:99"})[Field.REASON] == "not_found"
    page = req(svc, "ctl", MessageType.LIST, {Field.OFFSET: 0, Field.COUNT: 10})
    assert page[Field.TOTAL] == 1 and page[Field.ENTRY][0][Field.IP] == ip
