"""Emulated babel mesh: pure description (topology, schedule), builder, radio stand-in, clean-up."""
