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
        print(f"{args.config}: ok ({len(cfg.pools)} pool(s), store {cfg.store.backend} "
              f"at {cfg.store.path})")
        return 0
    from l3roam.master.server import MasterServer
    from l3roam.master.store import open_store

    kvlog.setup(cfg.log_level, str(cfg.log_file) if cfg.log_file else None)
    server = MasterServer(cfg, open_store(cfg.store.backend, cfg.store.path), keys)

    def stop(signum, frame):  # noqa: ARG001
        server.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0
