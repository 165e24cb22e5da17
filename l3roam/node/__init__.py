"""Node agent: DHCP server, presence, handover, DNS, wiring, entry point."""
