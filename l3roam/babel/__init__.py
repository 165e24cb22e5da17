"""babeld integration: configuration rendering, version check, process control, local socket."""
