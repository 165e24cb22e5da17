"""KnownLeases: the lease sync pages through LIST and keeps only bound, unexpired leases."""

from __future__ import annotations

from ipaddress import IPv4Address as A

from l3roam.master.client import Answer
from l3roam.node.lease_sync import KnownLeases
from l3roam.proto.control import Field, MessageType, Status


class PagedMaster:
    """Answers LIST from a list of entries at once (a stand-in for the real master's paging)."""

    def __init__(self, entries, up=True):
        self.entries, self.up, self.asked = entries, up, []
        self.now = 1000.0

    def clock(self):
        return self.now

    def send(self, mtype, fields, callback):
        assert mtype is MessageType.LIST
        self.asked.append(fields[Field.OFFSET])
        if not self.up:
            callback(None)
            return
        off, n = fields[Field.OFFSET], fields[Field.COUNT]
        callback(Answer(True, "", {Field.STATUS: Status.OK, Field.TOTAL: len(self.entries),
                                   Field.ENTRY: self.entries[off:off + n]}))


def entry(i, state=2, expires_s=2000.0):
    return {Field.MAC: f"02:00:00:00:00:{i:02x}", Field.IP: A(f"10.99.0.{i}"), Field.STATE: state,
            Field.EXPIRES: int(expires_s * 1000), Field.SEQ: i}


def test_sync_reads_every_page_and_keeps_bound_unexpired_leases():
    m = PagedMaster([entry(i) for i in range(1, 90)] + [entry(95, state=1), entry(96, expires_s=10)])
    k = KnownLeases(m, period=60)
    k.tick(1000.0)
    assert m.asked == [0, 40, 80]
    assert k.get("02:00:00:00:00:05", 1000.0) == (A("10.99.0.5"), 2000.0, 5)
    assert k.get("02:00:00:00:00:5f", 1000.0) is None  # an offer, not a lease
    assert k.get("02:00:00:00:00:60", 1000.0) is None  # ended
    k.tick(1030.0)
    assert m.asked == [0, 40, 80]  # not before the period


def test_a_silent_master_is_asked_again_sooner_and_answers_still_teach():
    m = PagedMaster([entry(1)], up=False)
    k = KnownLeases(m, period=60)
    k.tick(1000.0)
    k.tick(1005.0)
    assert m.asked == [0]
    k.learn("02:00:00:00:00:07", A("10.99.0.7"), 1500.0, 3)
    assert k.get("02:00:00:00:00:07", 1200.0) == (A("10.99.0.7"), 1500.0, 3)
    m.up, m.now = True, 1011.0
    k.tick(1011.0)
    assert m.asked == [0, 0] and k.get("02:00:00:00:00:01", 1011.0) is not None
