"""Pure domain logic: leases and allocation, client location, DHCP decisions."""
