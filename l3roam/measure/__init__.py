"""Measurements: probes run inside namespaces, pure analysis of what they recorded."""
