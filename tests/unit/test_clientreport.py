"""The "Many clients" report section: rows, arithmetic, crossings, splicing into results.md."""

import json

import pytest

from l3roam.experiment import clientreport as cr


def point(clients, rate=0.0, bytes_mean=None, roams=0, complete=True):
    b = bytes_mean if bytes_mean is not None else 700 + 8.4 * clients
    return {"clients": clients, "roam_rate": rate, "roams": roams, "seconds": 20.0, "load": [1.0, 1.0, 1.0],
            "settle_s": 0.8, "roam_failures": 0,
            "coverage": {"all_routes_everywhere": complete, "routes_min": clients if complete else clients - 3,
                         "expected_routes": clients},
            "babeld_log": {"enobufs": 1, "repaired_add": 2, "repaired_flush": 0},
            "babel_bytes_per_s_per_link": {"mean": b, "median": b, "min": b, "max": b * 1.1},
            "babel_packets_per_s_per_link": {"mean": 10.0, "median": 10.0, "min": 9.0, "max": 11.0},
            "babeld_cpu_percent": {"median": 0.5, "max": 0.9, "total": 2.5}, "babeld_rss_kib": {"median": 2000, "max": 3000},
            "agent_cpu_percent_per_ap": 0.1, "master_cpu_percent": 0.2, "master_ops_per_s": rate,
            "capture": {"link": "r2->r3", "seconds": 20.0,
                        "tally": {"headers": {"count": 10, "bytes": 520}, "update": {"count": 100, "bytes": 1600}}}}


def mesh(points, name="line5"):
    return {"mesh": name, "routers": 5, "links": 4, "aps": ["r1", "r3", "r5"], "hello": 0.25, "update_interval": 4.0,
            "kernel_check_interval": 10, "mtu": 1600, "master": "r2", "mean_hops_ap_to_master": 5 / 3,
            "converge_s": 1.0, "points": points}


def test_fit_roam_cost_and_the_section():
    m = mesh([point(0), point(1000), point(10000), point(10000, 5.0, bytes_mean=700 + 84000 + 800, roams=100)])
    a, b = cr.per_client_fit(m)
    assert b == pytest.approx(8.4) and a == pytest.approx(700)
    assert cr.roam_cost(m) == [(5.0, pytest.approx(800 * 20 / 100))]
    text = cr.render_section([m], "results/clients-control.png")
    assert text.startswith(cr.BEGIN) and text.rstrip().endswith(cr.END)
    assert "| line5 | 10000 | 0 | 0 | **yes** | 10000 / 10000 |" in text
    assert "### Against RFC 8966's arithmetic" in text and "| line5 | 8.40 | 8.3" in text
    # 1 % of 10 Mbit/s = 12,500 B/s: (12500 - 700) / 8.4 = 1,405 clients
    assert "| line5 | 67 bit/s | 1,405 |" in text
    # users: u/8 x (5/3 hops) / 4 links per client; break-even 8.4*8*4/(5/3) = 161 bit/s
    assert "| 0.2 kbit/s | up to 16 | up to 1 |" in text
    assert "![clients](results/clients-control.png)" in text


def test_an_incomplete_point_says_no_and_where_routes_were_lost():
    bad = point(5000, complete=False)
    bad["coverage"]["lost_where"] = [{"ip": "10.99.1.7", "ap": "r3", "router": "r1", "ap_kernel": True,
                                      "ap_babeld_xroute": False, "router_babeld_route": False,
                                      "router_kernel": False}]
    text = cr.render_section([mesh([point(0), bad])], None)
    assert "| NO | 4997 / 5000 |" in text
    assert "| line5 | 5000 | 0 | 10.99.1.7 | r3 | r1 | yes | **no** | **no** | **no** |" in text


def test_splice_replaces_only_its_own_section(tmp_path):
    md = tmp_path / "results.md"
    md.write_text("# Results\n\n## Other\ntext\n")
    cr.splice(md, cr.BEGIN + "\nfirst\n" + cr.END + "\n")
    assert md.read_text() == f"# Results\n\n## Other\ntext\n\n{cr.BEGIN}\nfirst\n{cr.END}\n"
    md.write_text(md.read_text() + "\n## After\nmore\n")
    cr.splice(md, cr.BEGIN + "\nsecond\n" + cr.END + "\n")
    t = md.read_text()
    assert "first" not in t and "second" in t and t.endswith("## After\nmore\n") and t.startswith("# Results")


def test_report_of_a_client_scale_directory_renders_into_an_existing_file(tmp_path):
    pytest.importorskip("matplotlib")
    from l3roam.experiment.report import write_report

    out = tmp_path / "out"
    out.mkdir()
    (out / "clientscale-line5.json").write_text(json.dumps(mesh([point(0), point(1000), point(2000)])))
    md = tmp_path / "docs" / "results.md"
    md.parent.mkdir()
    md.write_text("# Results\n\nkept\n")
    write_report(out, md, tmp_path / "docs" / "results")
    t = md.read_text()
    assert t.startswith("# Results\n\nkept\n") and "## Many clients" in t
    assert (tmp_path / "docs" / "results" / "clients-control.png").read_bytes()[:4] == b"\x89PNG"
