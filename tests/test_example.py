"""The committed example report: a part runs the brief profile and keeps its results in the example folder,
the page is rebuilt from every part, a quick report shows the example's answers beside its own numbers,
and the README's results table is what `mnistlab example --readme` writes from the committed example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.example import headline_value, load_parts, readme_table, results_table, run_part, write_page
from mnistlab.report.html import render

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "models=16,8", "--set", "epochs=1", "--set", "train_limit=300", "--set", "test_limit=200",
        "--set", "precision=fp32", "--seeds", "2", "--no-progress"]


def test_the_readme_table_is_the_one_the_committed_example_gives():
    assert readme_table(ROOT / "README.md") == results_table(ROOT / "examples" / "brief", "examples/brief"), (
        "the README's results table is stale: run `mnistlab example --readme README.md`")


@pytest.mark.slow
def test_a_part_keeps_its_results_and_the_page_and_a_quick_report_show_them(tmp_path):
    runs, dest = tmp_path / "runs", tmp_path / "examples" / "brief"
    names = run_part(["task3"], runs=runs, dest=dest, command=lambda args: main([*args, *TINY]), log=lambda _: None)
    assert names == ["task3"]
    record = json.loads((dest / "task3" / "result.json").read_text())
    assert record["profile"] == "brief" and record["seeds"] == [0, 1]
    assert all((dest / "task3" / f["file"]).is_file() for f in record["figures"])
    assert not (dest / "task3" / "seed-1").exists()  # only the figures the result names are kept
    (part,) = load_parts(dest)
    assert part["tasks"] == ["task3"] and part["wall_seconds"] > 0 and part["command"] == 'make example TASKS="task3"'
    assert part["trained"] > 0 and part["reused"] == 0 and part["compute_seconds"] > 0

    page = write_page(dest).read_text()
    assert "The committed example report" in page and "task3 0-1" in page
    assert 'src="task3/' in page and "base64" not in page  # figures shown from their files: the folder stays small

    again = run_part(["task3"], runs=runs, dest=dest, command=lambda args: main([*args, *TINY]), log=lambda _: None)
    assert again == ["task3"] and load_parts(dest) == [part]  # up to date: copied, and its part keeps its time

    quick = tmp_path / "quick"
    assert main(["run", "task3", "--profile", "quick", "--out", str(quick), *TINY[:-3], "--no-progress"]) == 0
    shown = render(quick, tmp_path / "report", example=dest)
    assert "committed example" in shown and "brief profile, 2 seeds" in shown
    assert "examples/brief/index.html#task3" in shown
    assert "committed example" not in render(quick, tmp_path / "report", example=None)


def test_a_headline_shows_its_interval_its_seeds_and_a_profile_other_than_the_brief():
    per_seed = {"brief": {"profile": "brief", "metrics": {"acc": 0.98},
                          "per_seed_metrics": {"0": {"acc": 0.97}, "1": {"acc": 0.99}}}}
    assert headline_value(per_seed["brief"], "acc") == "98.00% ± 12.71 (2 seeds)"
    # A task that runs its own seeds in one run records the interval and the count beside the mean.
    inside = {"profile": "extended", "metrics": {"acc": 0.996, "acc_ci95": 0.0004, "acc_seeds": 3.0}}
    assert headline_value(inside, "acc") == "99.60% ± 0.04 (3 seeds, extended profile)"
    assert headline_value({"profile": "brief", "metrics": {"acc": 0.5}}, "acc") == "50.00% (1 seed)"
    assert headline_value({"profile": "brief", "metrics": {}}, "acc") == "–"


def test_a_part_of_another_profile_is_recorded_and_named_on_the_page(tmp_path):
    from datetime import UTC, datetime

    from mnistlab.example import intro, record_part

    record_part(tmp_path, ["task3"], datetime(2026, 12, 7, tzinfo=UTC), 60.0)
    record_part(tmp_path, ["recipes"], datetime(2026, 12, 7, tzinfo=UTC), 5400.0, profile="extended")
    brief, extended = load_parts(tmp_path)
    assert brief["profile"] == "brief" and brief["command"] == 'make example TASKS="task3"'
    assert extended["command"] == 'make example TASKS="recipes" EXAMPLE_PROFILE=extended'
    text = intro(tmp_path)
    assert "recipes (extended profile): 2026-12-07" in text and "task3: 2026-12-07" in text
    assert "sub-runs" not in text  # parts that trained what they ran: their wall time is the work's
    # A part that resumed from the cache says so, with what its sub-runs took when they trained.
    record_part(tmp_path, ["recipes"], datetime(2026, 12, 8, tzinfo=UTC), 1200.0, profile="extended",
                networks={"trained": 6, "reused": 46, "compute_seconds": 7800.0})
    resumed = intro(tmp_path)
    assert "20 min 00 s wall time on a" in resumed
    assert ("which trained 6 of its 52 sub-runs (the others from the cache of an earlier run; all of them took "
            "2 h 10 min when they trained") in resumed


def test_example_refuses_an_unknown_profile(capsys):
    assert main(["example", "recipes", "--profile", "huge"]) != 0
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_a_task_with_seeds_of_its_own_is_labelled_with_them():
    from mnistlab.report.html import example_label, record_seeds

    recipes = {"profile": "extended", "seed": 0, "seeds": [0], "config": {"seeds": 3},
               "environment": {"cpu_model": "AMD EPYC"}, "finished_at": "2026-12-07T08:28:16+00:00"}
    assert record_seeds(recipes) == [0, 1, 2]
    assert example_label(recipes) == "extended profile, 3 seeds, AMD EPYC, 2026-12-07"
    assert record_seeds({"seeds": [0, 1, 2], "config": {"seeds": 3}}) == [0, 1, 2]  # the runner's seeds
    assert record_seeds({"seed": 4, "config": {"epochs": 3}}) == [4]
