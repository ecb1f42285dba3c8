"""The report reads results only: sections, tables, embedded figures, references, tasks not run."""

import json

import matplotlib.pyplot as plt
import pytest

from mnistlab.report.html import render, write_report
from mnistlab.report.notebook import write_notebook
from mnistlab.store import write_json
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
        "text": ["Plain <b>text</b> is escaped."],
        "references": [{"quantity": "test accuracy", "published": "97.9%", "source": "https://example.org/sol",
                        "metric": "acc"}],
    })
    return out


def test_report_sections_tables_figures_and_references(results):
    page = render(results)
    assert page.count("<section") == len(REGISTRY)
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
    assert dom.count("<section") == len(REGISTRY) and "A line." in dom
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
