"""The 802.2 "Layer 2 Update" frame an access point emits when a station associates (pure).

hostapd (``hostapd_send_l2_update`` / IEEE 802.11F-2003 §4.2.1) broadcasts
it with the *station's* MAC as source, so that every learning bridge on the
distribution system moves its forwarding entry for the station to the port
towards the new AP at once, instead of waiting for the station to send::

     0                   6                  12      14     15     16      17              20
    +-------------------+-------------------+-------+------+------+-------+---------------+
    | dst ff:ff:ff:ff:ff:ff | src: station MAC | len 6 | DSAP | SSAP | ctrl  | XID info      |
    |                   |                   |       | 0x00 | 0x01 | 0xaf  | 0x81 0x01 0x00|
    +-------------------+-------------------+-------+------+------+-------+---------------+

padded with zeros to the 60-byte Ethernet minimum.
"""

from __future__ import annotations

BROADCAST = b"\xff" * 6
XID_LLC = bytes([0x00, 0x01, 0xAF, 0x81, 0x01, 0x00])  # DSAP, SSAP, control XID, XID information


def l2_update_frame(station_mac: str) -> bytes:
    src = bytes.fromhex(station_mac.replace(":", "").replace("-", ""))
    if len(src) != 6:
        raise ValueError(f"not a MAC address: {station_mac!r}")
    frame = BROADCAST + src + len(XID_LLC).to_bytes(2, "big") + XID_LLC
    return frame + b"\0" * (60 - len(frame))
