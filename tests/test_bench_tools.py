"""Pure helpers of bench/scale.py and bench/demo.py: /proc parsing, sizing, growth slope, tables."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


scale = _load("scale")
demo = _load("demo")

STATUS = "Name:\tjava\nVmPeak:\t 9000000 kB\nVmHWM:\t  1234567 kB\nVmRSS:\t  1000000 kB\nThreads:\t42\n"


def test_status_kb_reads_the_named_line():
    assert scale.status_kb(STATUS, "VmHWM") == 1234567
    assert scale.status_kb(STATUS, "VmRSS") == 1000000


@pytest.mark.parametrize("key", ["VmSwap", "Vm"])
def test_status_kb_missing_key(key):
    with pytest.raises(ValueError, match=f"no {key} line"):
        scale.status_kb(STATUS, key)


def test_status_kb_rejects_a_line_without_kb():
    with pytest.raises(ValueError, match="Threads"):
        scale.status_kb(STATUS, "Threads")


def test_own_process_peak_is_at_least_current_rss():
    import os

    pid = os.getpid()
    assert scale.read_status_kb(pid, "VmHWM") >= scale.read_status_kb(pid, "VmRSS") > 0
    assert scale.read_status_kb(2 ** 22 + 12345, "VmRSS") is None  # no such process


def test_sizing_picks_the_smallest_entry_that_fits():
    smallest, largest = min(scale.SIZING), max(scale.SIZING)
    assert scale.sizing_for(1) == scale.SIZING[smallest]
    assert scale.sizing_for(smallest + 1) == scale.SIZING[sorted(scale.SIZING)[1]]
    assert scale.sizing_for(largest * 10) == scale.SIZING[largest]


def test_loglog_slope():
    assert scale.loglog_slope([10, 100, 1000], [2, 20, 200]) == pytest.approx(1.0)
    assert scale.loglog_slope([10, 100], [1, 100]) == pytest.approx(2.0)
    assert scale.loglog_slope([10], [1]) is None
    assert scale.loglog_slope([10, 10], [1, 5]) is None


def test_stage_table_marks_errors_and_unreached_stages():
    results = [
        {"users": 1000, "stages": {s: {"seconds": 2.0, "rows": 100, "unit": "rows", "py_peak_mb": 300,
                                       "neo4j_peak_mb": 900} for s in scale.STAGES}},
        {"users": 10, "stages": {"generate": {"seconds": 1.0, "rows": 0, "py_peak_mb": 200, "neo4j_peak_mb": None},
                                 "ingest": {"seconds": 5.0, "py_peak_mb": 9000, "neo4j_peak_mb": 1000,
                                            "error": "killed: over cap"}}},
    ]
    table = scale.stage_table(results).splitlines()
    assert table[0] == "| stage | 10 users | 1,000 users |"
    ingest = next(ln for ln in table if ln.startswith("| ingest |"))
    assert "**killed: over cap**" in ingest and "50 rows/s" in ingest
    export = next(ln for ln in table if ln.startswith("| export |"))
    assert export.split("|")[2].strip() == "not reached"
    generate = next(ln for ln in table if ln.startswith("| generate |"))
    assert "Neo4j – MB" in generate and "Py 200 MB" in generate


DEMO_OUT = """some log line

stage                         seconds  result
apply schema                      0.4  12 constraints/indexes, 4 vector indexes
ingest MovieLens-100K            80.2  (skipped) up to date
a stage with a name longer than twenty-eight    3.0  done
total (incl. Neo4j start)       95.5

Bolt:     neo4j://127.0.0.1:7687
"""


def test_parse_stage_table():
    stages, total = demo.parse_stage_table(DEMO_OUT)
    assert total == 95.5
    assert stages == [("apply schema", 0.4, "12 constraints/indexes, 4 vector indexes"),
                      ("ingest MovieLens-100K", 80.2, "(skipped) up to date"),
                      ("a stage with a name longer than twenty-eight", 3.0, "done")]


@pytest.mark.parametrize("text, message", [("no table here", "no 'stage seconds result'"),
                                           ("stage seconds result\nweird\n", "unexpected line"),
                                           ("stage seconds result\nx   1.0  ok\n", "no total")])
def test_parse_stage_table_errors(text, message):
    with pytest.raises(ValueError, match=message):
        demo.parse_stage_table(text)


def test_comparison_table_checks_the_goal():
    runs = [demo.DemoRun("cold", 200.0, 190.0, [("ingest", 150.0, "done"), ("train", 30.0, "ok")]),
            demo.DemoRun("rerun", 10.0, 8.0, [("ingest", 0.1, "(skipped) up to date")])]
    table = demo.comparison_table(runs, 180.0).splitlines()
    assert table[0] == "| stage | cold | rerun |"
    assert "| ingest | 150.0 | 0.1 (skipped) |" in table
    assert "| train | 30.0 | – |" in table
    assert table[-1] == "| within the 180 s goal | **no** | yes |"


def test_stat_cpu_s_sums_user_and_system_ticks():
    # comm may hold spaces and parentheses; utime and stime are fields 14 and 15
    text = "1234 (java (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 42 0 100 0 0"
    assert scale.stat_cpu_s(text, 100) == 3.0
    import os

    assert scale.cpu_s(os.getpid()) > 0
    assert scale.cpu_s(None) is None
