"""``l3roam node``: run the node agent on an access point, next to babeld.

SIGTERM or SIGINT: stop, undoing every kernel change (routes, SID, gateway,
sysctls; exit 0).  SIGHUP: stop for a restart, leaving clients' routes and
the gateway in place (exit 75, ``RESTART_EXIT``; the units restart on it and
the next start reconciles the routes with the master).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

#: Exit status after SIGHUP: "restart me" (systemd RestartForceExitStatus, procd respawn).
RESTART_EXIT = 75


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="node YAML file (see configs/node.yaml)")
    p.add_argument("--check-config", action="store_true",
                   help="validate the configuration and exit, without side effects")


def run(args: argparse.Namespace) -> int:
    from l3roam import log as kvlog
    from l3roam.node import config as nconfig

    cfg = nconfig.load(args.config)  # a ConfigError ends in l3roam.cli.main: message, exit 2
    key = cfg.node_key()  # reads the key file: a bad one is a ConfigError
    if args.check_config:
        print(f"{args.config}: ok (node {cfg.node_id}, clients on {cfg.client_interface}, "
              f"master {cfg.master})")
        return 0
    kvlog.setup(cfg.log_level, str(cfg.log_file) if cfg.log_file else None)
    log = logging.getLogger("l3roam.node")
    from l3roam.babel.version import require_babeld

    require_babeld()  # too old or missing: l3roam.cli.main says so and exits 2

    from l3roam.kernel import LinkMonitor, NetlinkKernel
    from l3roam.master.client import MasterClient
    from l3roam.node.agent import NodeAgent
    from l3roam.node.dhcp_io import DhcpSocket
    from l3roam.node.dns import DnsAnswerer
    from l3roam.node.dns_server import DnsServer

    kernel = NetlinkKernel()
    family_any = "::" if ":" in cfg.master.host else "0.0.0.0"
    bind_host = str(cfg.control_address) if cfg.control_address else family_any
    master = MasterClient(cfg.node_id, key, cfg.masters,
                          bind=(bind_host, cfg.control_port),
                          deadline=cfg.master_deadline_seconds)
    monitor = LinkMonitor() if cfg.presence.link_events or cfg.presence.bridge_fdb else None
    stop_dns = None
    # the gateway address must exist before sockets bind to it
    agent = NodeAgent(cfg, kernel, master, None, monitor, None)
    how = {"teardown": True}

    def stop(signum, frame):  # noqa: ARG001
        how["teardown"] = signum != signal.SIGHUP
        agent.running = False

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    agent.start()
    agent.attach_dhcp(DhcpSocket(cfg.client_interface, cfg.gateway.ip, str(cfg.gateway_mac)))
    if cfg.presence.hostapd:
        from l3roam.node.hostapd import HostapdMonitor
        for path in cfg.presence.hostapd:
            agent.attach_hostapd(HostapdMonitor(path))
    if cfg.metrics_listen:
        agent.serve_metrics(cfg.metrics_listen.host, cfg.metrics_listen.port)
    if cfg.dns.enabled:
        answerer = DnsAnswerer(cfg.dhcp.domain, client_prefix=cfg.gateway.network)
        dns = DnsServer(answerer, (str(cfg.gateway.ip), cfg.dns.port),
                        [(u.host, u.port) for u in cfg.dns.upstream], cfg.dns.timeout_seconds)
        stop_dns = threading.Event()
        threading.Thread(target=dns.serve_forever, args=(stop_dns,), name="dns", daemon=True).start()
        agent.dns = dns

    stopped = False
    try:
        agent.serve_forever()
        stopped = True
    finally:
        if stop_dns is not None:
            stop_dns.set()
        if stopped and how["teardown"]:  # a crash leaves the data plane up: the restart reconciles
            agent.teardown()
        agent.close()
        master.close()
        kernel.close()
        log.info("event=node_stopped node=%s teardown=%s", cfg.node_id, stopped and how["teardown"])
    return 0 if how["teardown"] else RESTART_EXIT
