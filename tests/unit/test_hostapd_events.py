"""hostapd control-interface event lines (as hostapd 2.10 prints them)."""

from l3roam.node.hostapd import StationConnected, StationDisconnected, parse_event


def test_connected_and_disconnected_lines():
    assert parse_event("<3>AP-STA-CONNECTED 02:11:22:33:44:55", "wlan0") == \
        StationConnected("02:11:22:33:44:55", "wlan0")
    assert parse_event("<3>AP-STA-DISCONNECTED 02:AA:bb:CC:dd:EE\n", "wlan1") == \
        StationDisconnected("02:aa:bb:cc:dd:ee", "wlan1")
    assert parse_event("<3>AP-STA-CONNECTED 02:11:22:33:44:55 keyid=k1 p2p_dev_addr=00:00:00:00:00:00",
                       "wlan0").mac == "02:11:22:33:44:55"


def test_other_lines_are_not_events():
    for line in ("<3>CTRL-EVENT-EAP-STARTED 02:11:22:33:44:55", "OK", "PONG", "",
                 "<3>AP-STA-CONNECTED not-a-mac", "<3>AP-STA-POLL-OK 02:11:22:33:44:55"):
        assert parse_event(line, "wlan0") is None
