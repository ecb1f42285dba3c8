"""docs/extending.md runs as written: each of its sections, in a fresh folder, writes the files its
`# file:` blocks give and runs its bash blocks with the `mnistlab` command of this environment; then the
test checks that what the page promises happened (the class in the sweep, the experiment in the report,
the weighting among Task 6's strategies)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"```(python|bash)\n(.*?)```", re.S)


def sections() -> dict[str, str]:
    """The page's sections that hold code, by the letter of their heading: {"a": text, "b": ..., "c": ...}."""
    out = {}
    for part in DOC.read_text(encoding="utf-8").split("\n## ")[1:]:
        match = re.match(r"\((\w)\)", part)
        if match and "```" in part:
            out[match.group(1)] = part
    return out


def run_section(text: str, folder: Path) -> None:
    """Write the section's files and run its commands in `folder`, as a reader would."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           }
    env.pop("MNISTLAB_EXPERIMENTS", None)
    for language, body in BLOCK.findall(text):
        if language == "python":
            first, _, code = body.partition("\n")
            assert first.startswith("# file: "), f"a python block should start with '# file: PATH': {first!r}"
            path = folder / first.removeprefix("# file: ").strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
        else:
            done = subprocess.run(["bash", "-ec", body], cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=900)
            assert done.returncode == 0, f"{body}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"


def test_the_page_has_the_three_promised_sections():
    assert set(sections()) == {"a", "b", "c"}


@pytest.mark.slow
def test_a_model_class_of_your_own_joins_task3s_sweep(tmp_path):
    run_section(sections()["a"], tmp_path)
    record = json.loads((tmp_path / "results" / "task3" / "result.json").read_text())
    assert record["config"]["models"] == ["1000-1000", "mylab.models:WideMLP"]
    assert 0.5 < record["metrics"]["widemlp_test_acc"] <= 1  # trained on the quick subset, well above chance
    names = [row[0] for row in record["tables"]["sweep"]["rows"]]
    assert "WideMLP" in names


@pytest.mark.slow
def test_an_experiment_of_your_own_is_planned_run_and_reported(tmp_path):
    run_section(sections()["b"], tmp_path)
    record = json.loads((tmp_path / "results" / "widths" / "result.json").read_text())
    assert set(record["metrics"]) == {"mlp_16_test_acc", "mlp_64_test_acc"}
    assert all(0.3 < v <= 1 for v in record["metrics"].values())  # ten classes: chance is 0.1
    (best,) = [p for p in record["paragraphs"] if p["id"] == "best"]
    assert best["finding"].startswith("The best width was")
    page = (tmp_path / "report" / "index.html").read_text()
    assert 'id="widths"' in page and "Widths of one hidden layer" in page and best["finding"] in page


@pytest.mark.slow
def test_a_weighting_of_your_own_trains_among_task6s_strategies(tmp_path):
    run_section(sections()["c"], tmp_path)
    record = json.loads((tmp_path / "results" / "task6" / "result.json").read_text())
    assert record["config"]["strategies"] == ["uncertainty", "harmonic"]
    harmonic = {k: v for k, v in record["metrics"].items() if "harmonic" in k and k.endswith("_test_acc")}
    assert harmonic and all(0 < v <= 1 for v in harmonic.values())
    assert any(p["id"] == "learned_harmonic" for p in record["paragraphs"])
