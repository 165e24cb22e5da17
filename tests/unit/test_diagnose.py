"""Why a testbed did not converge: kernel log, CPU and babeld logs turned into a few named causes."""

from l3roam.testbed.diagnose import Diagnosis, babeld_errors, cpu_cause, kernel_log_causes, lacking_counts

# captured from this machine's kernel log while a 217-router mesh failed to converge (default gc_thresh3 1024)
KERNEL_LOG = """\
[  393.112004] cell0: port 1(sta-c1) entered forwarding state
[  394.596625] neighbour: ndisc_cache: neighbor table overflow!
[  394.807171] neighbour: ndisc_cache: neighbor table overflow!
[  395.733731] neighbour: ndisc_cache: neighbor table overflow!
[  400.801220] net_ratelimit: 212 callbacks suppressed
[  400.801224] neighbour: ndisc_cache: neighbor table overflow!
"""


def test_neighbour_table_overflow_is_detected_and_named():
    causes = kernel_log_causes(KERNEL_LOG)
    assert [c.kind for c in causes] == ["neigh_overflow"]
    text = causes[0].text
    assert "IPv6" in text and "gc_thresh3" in text and "4 message(s) (+212 suppressed)" in text


def test_kmsg_records_and_ipv4_table_too():
    causes = kernel_log_causes("4,1234,394596625,-;neighbour: arp_cache: neighbor table overflow!\n")
    assert len(causes) == 1 and "IPv4 (arp_cache" in causes[0].text


def test_clean_kernel_log_has_no_cause():
    assert kernel_log_causes("[  1.0] cell0: port 1(sta-c1) entered blocking state\n") == []


def test_cpu_saturation_by_busy_share_or_load():
    assert cpu_cause(0.99, 3.0, 2)[0].kind == "cpu_saturated"
    assert cpu_cause(0.5, 20.0, 2)[0].kind == "cpu_saturated"
    assert cpu_cause(0.5, 3.0, 2) == []


def test_babeld_errors_grouped_with_worst_routers():
    logs = {"r3": "send: Invalid argument\n" * 5 + "Warning: couldn't find router id -- using random value.\n",
            "r4": "send: Invalid argument\nnetlink_read: recvmsg(): No buffer space available\n", "r5": ""}
    causes = babeld_errors(logs)
    assert causes[0].kind == "babeld_errors"
    assert "'send: Invalid argument' 6 times on 2 router(s) (most: r3 5, r4 1)" in causes[0].text
    assert len(causes) == 2  # the benign router-id warning is not an error


def test_summary_is_short_and_names_the_worst():
    missing = {f"r{i}": {f"10.255.0.{j}" for j in range(i % 7)} for i in range(1, 251)}
    missing["r9"] = {f"10.255.0.{j}" for j in range(1, 251)}  # no route at all
    d = Diagnosis(250, lacking_counts(missing), kernel_log_causes(KERNEL_LOG), timeout=30)
    text = d.summary()
    lines = text.splitlines()
    assert len(lines) <= 6 and len(text) < 1000  # never one line per missing route
    assert lines[0].startswith("babel did not converge in 30 s: ") and "of 250 routers lack" in lines[0]
    assert "worst: r9 lacks 250" in lines[1]
    assert "have no babel route at all: r9" in lines[2]
    assert "neighbour table overflow" in text


def test_no_known_cause_says_what_to_try():
    text = Diagnosis(5, {"r2": 1}, [], timeout=20).summary()
    assert "no known cause detected" in text and "converge_timeout" in text
