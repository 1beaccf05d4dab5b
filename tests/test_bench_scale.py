"""bench/scale.py: which training config each size gets, and the baseline row of sizes that skip it."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
_spec = importlib.util.spec_from_file_location("bench_scale_cfg", BENCH / "scale.py")
scale = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = scale
_spec.loader.exec_module(scale)


def test_full_graph_up_to_the_limit_then_minibatch_unless_a_config_is_given():
    args = argparse.Namespace(train_config=None, full_graph_max_users=100_000)
    assert scale.train_config_for(10_000, args) == scale.SCALE_YAML
    assert scale.train_config_for(100_000, args) == scale.SCALE_YAML
    assert scale.train_config_for(100_001, args) == scale.MINIBATCH_YAML
    args.train_config = Path("mine.yaml")
    assert scale.train_config_for(1_000_000, args) == Path("mine.yaml")
    assert scale.SCALE_YAML.is_file() and scale.MINIBATCH_YAML.is_file()


def test_skipped_baseline_reads_not_run_and_missing_stages_not_reached():
    table = scale.stage_table([{"users": 10, "stages": {"generate": {"seconds": 1.0, "py_peak_mb": 200,
                                                                       "neo4j_peak_mb": None}}}]).splitlines()
    row = {ln.split("|")[1].strip(): ln.split("|")[2].strip() for ln in table[2:]}
    assert row[scale.BASELINE] == "not run" and row["ingest"] == "not reached"
