"""Experiments: several roaming designs side by side on one mesh, costs, scale, and the report."""
