"""``l3roam master``: load the config, open the store, serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="master YAML file (see configs/master.yaml)")
    p.add_argument("--check-config", action="store_true",
                   help="validate the configuration and exit, without side effects")


def run(args: argparse.Namespace) -> int:
    from l3roam import log as kvlog
    from l3roam.master import config as mconfig

    cfg = mconfig.load(args.config)  # a ConfigError ends in l3roam.cli.main: message, exit 2
    keys = cfg.keyring()  # reads every key file: a bad one is a ConfigError
    if args.check_config:
        where = (", ".join(cfg.store.etcd.endpoints) if cfg.store.backend == "etcd" and cfg.store.etcd
                 else cfg.store.path)
        print(f"{args.config}: ok ({len(cfg.pools)} pool(s), store {cfg.store.backend} at {where})")
        return 0
    from l3roam.master.server import MasterServer
    from l3roam.master.store import open_store

    kvlog.setup(cfg.log_level, str(cfg.log_file) if cfg.log_file else None)
    if cfg.store.backend == "etcd":
        return _run_replicated(cfg, keys)
    server = MasterServer(cfg, open_store(cfg.store.backend, cfg.store.path), keys)

    def stop(signum, frame):  # noqa: ARG001
        server.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0


def _run_replicated(cfg, keys) -> int:
    """Standby until this master wins the leader key, active until it loses it, then again."""
    import logging
    import os
    import socket
    import threading

    from l3roam.errors import LeadershipLost, StoreUnavailable
    from l3roam.log import event
    from l3roam.master.election import Leadership
    from l3roam.master.etcd_gateway import EtcdGateway
    from l3roam.master.etcd_store import EtcdStore
    from l3roam.master.server import MasterServer

    log = logging.getLogger("l3roam.master")
    ec = cfg.store.etcd
    endpoints = [(e.host, e.port) for e in ec.endpoints]
    name = ec.name or f"{socket.gethostname()}:{os.getpid()}"
    stopping = threading.Event()
    current: list = []

    def stop(signum, frame):  # noqa: ARG001
        stopping.set()
        for server in current:
            server.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.is_set():
        lead = Leadership(endpoints, ec.prefix, name, ec.lease_ttl_seconds,
                          ec.request_timeout_seconds, ec.poll_seconds, ec.heartbeat_seconds,
                          ec.takeover_seconds)
        revision = lead.campaign(stopping)
        if revision is None:
            break
        # a commit is retried (on every member) as long as the role may still be
        # ours; each attempt is fenced, so a retry can never write for a deposed master
        gw = EtcdGateway(endpoints, timeout=ec.request_timeout_seconds,
                         deadline=max(lead.patience, lead.granted_ttl))
        gw.prefer_leader()
        try:
            store = EtcdStore(gw, ec.prefix, revision, ec.max_txn_ops, preloaded=lead.prefetched)
            server = MasterServer(cfg, store, keys, fenced=lead.lost.is_set)
            current[:] = [server]
            if stopping.is_set():
                server.running = False
            server.serve_forever()
        except (LeadershipLost, StoreUnavailable) as exc:
            event(log, "master_demoted", level=logging.WARNING, master=name, reason=str(exc))
        finally:
            current.clear()
            lead.resign()
    return 0
