"""Pure wire codecs: DHCPv4, ARP and the master's control protocol."""
