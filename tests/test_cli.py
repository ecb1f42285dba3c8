"""The command line: each user mistake is one line on stderr and exit code 2; a real run end to end."""

import json
import subprocess
import sys

import pytest
import torch

from mnistlab.cli import main
from mnistlab.data import sources


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistlab: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unknown_task_suggests_close_names(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "data-overveiw", "--out", str(tmp_path))
    assert_one_line_error(code, err, "unknown task 'data-overveiw'", "did you mean data-overview")


@pytest.mark.parametrize("setting, needle", [
    ("samples_per_class", "expects KEY=VALUE"),
    ("samples_per_clas=3", "did you mean 'samples_per_class'"),
    ("samples_per_class=three", "bad value for samples_per_class"),
    ("samples_per_class=99", "between 1 and 30"),
    ("task9.samples_per_class=3", "not among the tasks"),
])
def test_bad_set_values(capsys, tmp_path, setting, needle):
    code, _, err = run_cli(capsys, "run", "data-overview", "--out", str(tmp_path), "--set", setting)
    assert_one_line_error(code, err, needle)


def test_bad_option_and_profile(capsys):
    code, _, err = run_cli(capsys, "run", "data-overview", "--profile", "huge")
    assert_one_line_error(code, err, "invalid choice")
    code, _, err = run_cli(capsys, "frobnicate")
    assert_one_line_error(code, err, "invalid choice")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "data-overview", "--device", "cuda", "--out", str(tmp_path))
    assert_one_line_error(code, err, "no CUDA GPU")


def test_bad_thread_count(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_THREADS", "two")
    code, _, err = run_cli(capsys, "run", "data-overview", "--out", str(tmp_path))
    assert_one_line_error(code, err, "MNISTLAB_THREADS")


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(capsys, "run", "data-overview", "--out", str(blocker / "results"))
    assert_one_line_error(code, err, "cannot write to output folder")


def test_missing_data_names_the_places(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "REPO_DATA_DIR", tmp_path / "none")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "DEBIAN_DIRS", {})
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    code, _, err = run_cli(capsys, "data", "verify")
    assert_one_line_error(code, err, "not found", "--data-dir", "repository data/")
    # an explicit folder that fails is an error naming it, not a reason to look elsewhere
    code, _, err = run_cli(capsys, "data", "verify", "--data-dir", str(tmp_path / "empty"))
    assert_one_line_error(code, err, f"--data-dir {tmp_path / 'empty'} does not exist")


def test_data_verify_prints_eight_ok_lines(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no decoded-array caches to report on
    code, out, _ = run_cli(capsys, "data", "verify")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 8 and all(line.startswith("OK") for line in lines)


def test_list_shows_tasks_and_options(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "data-overview" in out and "samples_per_class" in out


def test_run_then_skip_then_report(capsys, tmp_path):
    out = tmp_path / "results"
    code, stdout, _ = run_cli(capsys, "run", "data-overview", "--out", str(out), "--set", "samples_per_class=3")
    assert code == 0
    record = json.loads((out / "data-overview" / "result.json").read_text())
    assert record["task"] == "data-overview" and record["config"] == {"samples_per_class": 3}
    assert record["metrics"]["mnist_train_size"] == 60_000
    assert {"python", "torch", "device", "bf16_native"} <= set(record["environment"])
    assert all((out / "data-overview" / f["file"]).is_file() for f in record["figures"])
    code, stdout, _ = run_cli(capsys, "run", "data-overview", "--out", str(out), "--set", "samples_per_class=3")
    assert code == 0 and "up to date" in stdout
    code, stdout, _ = run_cli(capsys, "report", "--out", str(out), "--report-dir", str(tmp_path / "report"))
    assert code == 0
    page = (tmp_path / "report" / "index.html").read_text()
    assert "data:image/png;base64," in page and "<table" in page and "mnist_train_size" in page


def test_no_traceback_from_the_installed_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "run", "nonsense", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("mnistlab: error: unknown task") and "Traceback" not in proc.stderr


def test_abbreviated_options_are_refused(capsys, tmp_path):
    """'--prof' is not silently taken as '--profile' (allow_abbrev=False on every parser)."""
    code, _, err = run_cli(capsys, "run", "data-overview", "--prof", "quick", "--out", str(tmp_path))
    assert_one_line_error(code, err, "--prof")
    code, _, err = run_cli(capsys, "report", "--report", str(tmp_path))
    assert_one_line_error(code, err, "--report")


def test_version_prints_the_package_version(capsys):
    from mnistlab import __version__

    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"mnistlab {__version__}"
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"mnistlab {__version__}"
