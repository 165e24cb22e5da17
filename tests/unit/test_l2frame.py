"""The 802.2 Layer 2 Update frame the L2 baseline's APs emit on association."""

import pytest

from l3roam.experiment.l2frame import l2_update_frame


def test_frame_layout_as_hostapd_sends_it():
    f = l2_update_frame("02:00:00:00:C0:01")
    assert len(f) == 60
    assert f[:6] == b"\xff" * 6  # broadcast
    assert f[6:12] == bytes.fromhex("020000 00c001".replace(" ", ""))  # the station's MAC as source
    assert f[12:14] == b"\x00\x06"  # 802.3 length, not an EtherType
    assert f[14:20] == bytes([0x00, 0x01, 0xAF, 0x81, 0x01, 0x00])  # null DSAP, SSAP 1, XID, XID info
    assert f[20:] == b"\0" * 40


def test_bad_mac_is_refused():
    with pytest.raises(ValueError):
        l2_update_frame("02:00:00:00:c0")
