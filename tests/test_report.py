"""The report reads results only: sections, tables, embedded figures, references, tasks not run."""

import json

import matplotlib.pyplot as plt
import pytest

from mnistlab.execution.store import write_json
from mnistlab.report.html import render, write_report
from mnistlab.report.notebook import write_notebook
from mnistlab.tasks import REGISTRY


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "results"
    folder = out / "data-overview"
    folder.mkdir(parents=True)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(folder / "line.png")
    plt.close(fig)
    write_json(folder / "result.json", {
        "task": "data-overview", "title": "The data", "profile": "quick", "seed": 0, "seconds": 1.5,
        "config": {"samples_per_class": 3}, "environment": {"device": "cpu", "cores": 2, "torch": "x"},
        "metrics": {"acc": 0.98765, "params": 1796010},
        "tables": {"t": {"columns": ["model", "acc"], "rows": [["<MLP>", 0.5]], "caption": "A table."}},
        "figures": [{"file": "line.png", "caption": "A line."}, {"file": "gone.png", "caption": "Lost."}],
        "paragraphs": [{"id": "p", "text": "Plain <b>text</b> is escaped.", "finding": ""}],
        "references": [{"quantity": "test accuracy", "published": "97.9%", "source": "https://example.org/sol",
                        "metric": "acc"}],
    })
    return out


def test_report_sections_tables_figures_and_references(results):
    page = render(results)
    assert page.count("<section") == len(REGISTRY) + 1  # one per task, and the list of published sources
    assert "data:image/png;base64," in page and "A line." in page
    assert "gone.png is missing" in page
    assert "&lt;MLP&gt;" in page and "&lt;b&gt;text&lt;/b&gt;" in page  # nothing from a result is raw HTML
    assert "97.9%" in page and 'href="https://example.org/sol"' in page and "0.9877" in page
    assert "1,796,010" in page


def test_tasks_without_results_are_listed_as_not_run(tmp_path):
    page = render(tmp_path / "nothing")
    assert page.count("Not run yet") == len(REGISTRY)


def test_write_report_is_one_self_contained_file(results, tmp_path):
    path = write_report(results, tmp_path / "report" / "index.html")
    page = path.read_text()
    assert page.startswith("<!doctype html>") and "<link" not in page and "<script" not in page


def test_notebook_executes_end_to_end(tmp_path):
    pytest.importorskip("nbclient")
    path = write_notebook(tmp_path / "lab.ipynb", profile="quick", execute=True, tasks=["data-overview"])
    nb = json.loads(path.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs)


def test_report_renders_in_headless_chromium(results, tmp_path):
    """The page as a browser sees it: every section in the DOM, the embedded figure decoded."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    page = write_report(results, tmp_path / "report" / "index.html")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert dom.count("<section") == len(REGISTRY) + 1 and "A line." in dom
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000


def _section_html(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}">')
    return page[start:page.index("</section>", start)]


def test_published_figures_fill_the_reference_tables_of_tasks_3_4_and_6(tmp_path):
    """The runner stores each task's published figures; the report shows them beside ours, labelled by source."""
    from dataclasses import dataclass

    import torch

    from mnistlab.execution.runner import run_task
    from mnistlab.tasks.base import Result, Task

    @dataclass(frozen=True)
    class Cfg:
        size: int = 1

    ours = {"task3": {"first_test_acc": 0.9812, "first_train_acc": 0.9955},
            "task4": {"first_test_acc": 0.9903, "first_train_seconds": 95.25},
            "task6": {"single_item_test_acc": 0.925, "mtl_lambda_0.5_item_test_acc": 0.9274}, "task5": {}}
    out = tmp_path / "results"
    for name, metrics in ours.items():
        fake = Task(name=name, title=REGISTRY[name].title, config_cls=Cfg, profiles={},
                    published=REGISTRY[name].published, analyse=lambda config, ctx, m=metrics: Result(metrics=dict(m)))
        run_task(fake, profile="quick", config=Cfg(), out=out, device=torch.device("cpu"), seed=0, log=lambda _: None)
    page = render(out)

    task3 = _section_html(page, "task3")
    assert "Beside published solutions" in task3
    assert "97.36%" in task3 and "95.44%" in task3 and "Report A" in task3 and "Report B" in task3
    assert "98.12%" in task3 and "batch 300, 10 epochs" in task3  # ours in the same unit; their settings noted
    task4 = _section_html(page, "task4")
    assert "99.08%" in task4 and "99.03%" in task4 and "183 s" in task4 and "95.2 s" in task4
    task6 = _section_html(page, "task6")
    assert "90.85%" in task6 and "91.39%" in task6 and "92.74%" in task6 and "Report A" in task6
    assert "No published reference numbers" in _section_html(page, "task5")  # none published: it says so
    assert 'id="sources"' in page and "Bath CM50335" in page


def test_published_imports_first_in_a_fresh_interpreter():
    """The tasks and their prose (mnistlab.analysis.claims) import mnistlab.analysis.published, which imports
    nothing of the lab:
    importing it, or the claims, before anything else must not meet a half-imported module."""
    import subprocess
    import sys

    for module in ("mnistlab.analysis.published", "mnistlab.analysis.claims"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_published_metrics_name_real_metric_keys():
    """Each published figure points at a metric key that its task really produces (or at none)."""
    from mnistlab.analysis.published import SOURCES
    from mnistlab.tasks.baselines.config import MODELS as BASELINES
    from mnistlab.tasks.clock.config import Config as ClockConfig
    from mnistlab.tasks.hparams.config import CNN_STUDIES, MLP_STUDIES
    from mnistlab.tasks.hparams.plan import metric_slug
    from mnistlab.tasks.sweeps import slug
    from mnistlab.tasks.task6.config import Config as Task6Config
    from mnistlab.tasks.task6.config import lam_name

    sweep = {f"first_{m}" for m in ("train_acc", "test_acc", "train_loss", "test_loss", "params", "train_seconds")}
    lambdas = [lam_name(x) for x in Task6Config().lambdas]
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    known = {
        "task1": {f"pca2d_pair_acc_{a}_{b}" for a, b in pairs} | {"pca2d_pair_acc_mean", "tsne_neighbourhood_hit",
                                                                 "pca_neighbourhood_hit"},
        "task2": {f"pair_test_acc_{a}_{b}" for a, b in pairs},
        "task3": sweep, "task4": sweep,
        "task6": {f"single_{t}_{m}" for t in ("item", "group") for m in ("test_acc", "train_seconds")}
        | {f"mtl_lambda_{x}_{t}_test_acc" for x in lambdas for t in ("item", "group")},
        "baselines": {f"{name.split()[0].lower()}_{recipe}test_acc" for name in BASELINES
                      for recipe in ("", "report_d_")},
        "clock": {f"{v}_mae_minutes" for v in ClockConfig().variants} | {"classes24_bin_accuracy"},
        "hparams": {metric_slug("mnist", s.family, s.name) + "_spread_pp"
                    for s in [*MLP_STUDIES.values(), *CNN_STUDIES.values()]}
        | {metric_slug("mnist", "MLP", "init", label) + "_test_acc" for label in MLP_STUDIES["init"].values},
        "permutation": {"mlp_change_pp", "cnn_change_pp", "cnn_permuted_test_acc"},
        "recipes": {f"{net}_chosen_test_acc" for net in ("mlp", "cnn1", "item", "group")}
        | {"mtl_chosen_group_test_acc"},
    }
    assert slug("MLP") == "mlp"
    declared = {name: task.published for name, task in REGISTRY.items()}
    for task, refs in declared.items():
        for ref in refs:
            assert ref.source in SOURCES
            assert ref.metric == "" or ref.metric in known[task], (task, ref.metric)


def test_findings_are_the_findings_paragraphs_declare_comparisons_first_few_and_short():
    from mnistlab.report.html import FINDING_CHARS, MAX_FINDINGS, findings

    paragraphs = [{"id": "setup", "text": "Setup: 600 images and 1 epoch. It reached 98%.", "finding": ""},
                  *[{"id": f"p{i}", "text": f"Point {i}. Detail.", "finding": f"Point {i}."} for i in range(6)],
                  {"id": "comparisons", "text": "Across seeds: A beat B. Comparisons: ...",
                   "finding": "Across seeds: A beat B."}]
    got = findings(paragraphs)
    assert len(got) == MAX_FINDINGS
    assert got[0] == "Across seeds: A beat B." and got[1:] == [f"Point {i}." for i in range(4)]
    assert not any("Setup" in f or "98%" in f for f in got)  # a paragraph that declares no finding gives none
    several = findings(paragraphs, first_seed=0)  # with several seeds the discussion is the first seed's
    assert several[0] == "Across seeds: A beat B." and several[1] == "Seed 0: Point 0."
    long = [{"id": "a", "text": "A " * 400, "finding": "A " * 400 + "end."}]
    assert all(len(f) <= FINDING_CHARS for f in findings(long))


def test_reproduce_command_round_trips_through_the_cli():
    from mnistlab.cli import _build_parser, parse_overrides
    from mnistlab.execution.store import to_jsonable
    from mnistlab.report.html import reproduce_command

    task = REGISTRY["task3"]
    config = task.config("brief", {"epochs": 3, "models": ("1000-1000", "64-64"), "precision": "bf16"})
    record = {"profile": "brief", "seed": 1, "config": to_jsonable(config), "environment": {"device": "cpu"}}
    record["config"]["precision"] = "fp32"  # what 'auto' resolved to: not pinned in the command
    command = reproduce_command("task3", record)
    assert command == "mnistlab run task3 --profile brief --seed 1 --set models=1000-1000,64-64 --set epochs=3"
    args = _build_parser().parse_args(command.split()[1:])
    again = task.config(args.profile, parse_overrides(args.overrides, [task])["task3"])
    assert again.epochs == 3 and again.models == ("1000-1000", "64-64") and args.seed == 1


def test_header_line_and_links_back_to_the_contents(results):
    page = render(results)
    assert f"1 of {len(REGISTRY)} tasks run · profile quick · seeds 0 · device cpu" in page
    assert "total run time 1.5 s" in page
    assert page.count('href="#contents"') == len(REGISTRY) + 1
    assert "Reproduce: <code>mnistlab run data-overview --profile quick --seed 0 --set samples_per_class=3</code>" \
        in page
    assert "<details class=\"discussion\">" in page


def test_quick_results_carry_the_smoke_test_banner_and_state_no_findings(results):
    page = render(results)  # the fixture's result is a quick-profile one
    banner = "quick profile: subsets and 1-2 epochs; the numbers are a smoke test, not findings"
    assert page.count(banner) == 2  # at the top of the page and on the section
    assert "<h3>Findings</h3>" not in page and "What this smoke test computed (not findings)" in page


def test_several_seeds_are_named_in_the_section_and_the_command(results):
    path = results / "data-overview" / "result.json"
    record = json.loads(path.read_text())
    write_json(path, {**record, "profile": "brief", "seeds": [0, 1, 2]})
    page = render(results)
    assert "3 seeds (0, 1, 2): numbers are means" in page and "--seeds 0,1,2" in page
    assert "smoke test" not in page
