"""Lease master: durable store, request handling, UDP server, node-side client, ctl."""
