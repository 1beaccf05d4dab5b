"""Dynamic interest: the planted drifters top the drift report; CLI table and errors."""
from __future__ import annotations

import json

import pytest

import cli
from graph.errors import InputError
from gnn.drift import Window, drift_report
from gnn.synthetic import DAY, T0, PlantedWorld, planted_snapshot

WORLD = PlantedWorld(n_users=80, n_content=120, n_topics=6, per_user=20, drifters=5)


def test_drift_report_finds_planted_drifters():
    snap, truth = planted_snapshot(WORLD)
    a = Window(T0, T0 + WORLD.days * DAY, "a")
    b = Window(T0 + WORLD.days * DAY, T0 + 2 * WORLD.days * DAY + 1, "b")
    rows = drift_report(snap, a, b, 30 * DAY, top_n=5)
    assert sorted(int(r["user"][1:]) for r in rows) == sorted(truth["drifters"].tolist())
    for r in rows:
        u = int(r["user"][1:])
        assert r["gained"][0][0] == f"t{truth['home'][u, 1]}"
        assert r["lost"][0][0] == f"t{truth['home'][u, 0]}"


def test_window_parsing():
    w = Window.parse("2024-01-01..2024-02-01T00:00:00Z")
    assert w.end - w.start == 31 * DAY
    with pytest.raises(InputError, match="START..END"):
        Window.parse("2024-01-01")
    with pytest.raises(InputError, match="end must be after start"):
        Window.parse("2024-02-01..2024-01-01")


def test_cli_drift_json(tmp_path, capsys):
    snap, truth = planted_snapshot(WORLD)
    snap.save(tmp_path / "snap")
    rc = cli.main(["drift", "--snapshot", str(tmp_path / "snap"), "--window-a", f"{T0}..{T0 + WORLD.days * DAY}",
                   "--window-b", f"{T0 + WORLD.days * DAY}..{T0 + 3 * WORLD.days * DAY}", "--top", "3", "--json"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and {int(r["user"][1:]) for r in rows} <= set(truth["drifters"].tolist())
