"""The committed example report: a part runs the brief profile and keeps its results in the example folder,
the page is rebuilt from every part, a quick report shows the example's answers beside its own numbers,
and the README's results table is what `mnistlab example --readme` writes from the committed example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.example import load_parts, readme_table, results_table, run_part, write_page
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
