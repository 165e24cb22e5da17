"""l3roam: layer-3 client roaming for babel meshes.

A lease master hands each client MAC one sticky IPv4 address and records which
node serves it; a node agent on each access point answers DHCP, installs a /32
host route that babeld redistributes and proxy-ARPs behind an anycast gateway.
"""

__version__ = "0.1.0"
