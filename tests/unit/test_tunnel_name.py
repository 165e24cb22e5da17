"""The hand-off's IPv6 tunnel (kernels without SRv6) is named per SID, uniquely.

SIDs of one mesh often differ only in their locator part; a name taken from
the address's last bytes made every AP's tunnel the same device, so a hand-off
to the third AP a client visited went into the tunnel to the first.
"""

from ipaddress import IPv6Address

from l3roam.kernel.netlink import NetlinkKernel


def test_tunnel_names_differ_for_sids_that_share_their_last_bytes_and_fit_an_interface_name():
    sids = [IPv6Address(f"fc00:{i:x}::d4") for i in range(1, 300)]
    names = [NetlinkKernel._tunnel_name(s) for s in sids]
    assert len(set(names)) == len(names)
    assert all(n.startswith("l3h") and len(n) <= 15 for n in names)
    assert NetlinkKernel._tunnel_name(sids[0]) == NetlinkKernel._tunnel_name(IPv6Address("fc00:1::d4"))
