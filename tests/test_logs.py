"""Per-epoch logs: CSV files and TensorBoard event files, read back with the csv module and TensorBoard's reader."""

import csv
import json
import math

import pytest

from mnistlab.cli import main
from mnistlab.execution.logs import csv_columns, safe_name, scalar_tag, write_histories, write_history_csv


def _history(epochs: int, heads: bool = False) -> list[dict]:
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "seconds": 1.5 * e, "train_loss": 1 / e, "train_acc": 0.5 + e / 100,
               "test_loss": 1.1 / e, "test_acc": 0.45 + e / 100, "lr": 1e-3 / e}
        if heads:
            row |= {"test_acc_item": 0.4 + e / 100, "test_acc_group": 0.7 + e / 100, "test_loss_item": 2 / e}
        rows.append(row)
    return rows


def _read_csv(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_csv_has_one_row_per_epoch_and_leading_columns(tmp_path):
    history = _history(3, heads=True)
    path = write_history_csv(tmp_path / "h.csv", history)
    rows = _read_csv(path)
    assert len(rows) == 3
    assert list(rows[0])[:3] == ["epoch", "seconds", "lr"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[2]["test_acc_group"]) == history[2]["test_acc_group"]  # full precision round trip
    assert float(rows[1]["train_loss"]) == pytest.approx(0.5)


def test_csv_writes_missing_and_nan_as_empty_cells(tmp_path):
    history = [{"epoch": 1, "seconds": 1.0, "test_mae": math.nan}, {"epoch": 2, "seconds": 1.0, "val_loss": 0.3}]
    rows = _read_csv(write_history_csv(tmp_path / "h.csv", history))
    assert rows[0]["test_mae"] == "" and rows[0]["val_loss"] == "" and rows[1]["val_loss"] == "0.3"


def test_columns_and_tags():
    assert csv_columns([{"test_acc": 1, "epoch": 1, "zeta": 0, "train_loss": 1, "val_acc": 1}]) == [
        "epoch", "train_loss", "val_acc", "test_acc", "zeta"]
    assert scalar_tag("train_loss") == "loss/train" and scalar_tag("test_acc_item") == "acc_item/test"
    assert scalar_tag("val_acc") == "acc/val" and scalar_tag("lr") == "lr" and scalar_tag("epoch") is None
    assert safe_name("MLP 1000-1000") == "MLP_1000-1000" and safe_name("lambda 0.5") == "lambda_0.5"


def test_write_histories_csv_and_tensorboard_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    task_dir, tb = tmp_path / "results" / "task6", tmp_path / "tb"
    networks = {"single item": _history(4), "lambda 0.5": _history(2, heads=True)}
    written = write_histories(task_dir, networks, tensorboard_dir=tb)
    assert task_dir / "history" / "single_item.csv" in written
    assert len(_read_csv(task_dir / "history" / "lambda_0.5.csv")) == 2

    acc = EventAccumulator(str(tb / "task6" / "single_item"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/train", "acc/train", "loss/test", "acc/test", "lr", "seconds_per_epoch"} <= tags
    events = acc.Scalars("acc/test")
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert events[-1].value == pytest.approx(0.49)

    heads = EventAccumulator(str(tb / "task6" / "lambda_0.5"))
    heads.Reload()
    assert len(heads.Scalars("acc_group/test")) == 2

    write_histories(task_dir, networks, tensorboard_dir=tb)  # a rerun replaces, it does not append
    again = EventAccumulator(str(tb / "task6" / "single_item"))
    again.Reload()
    assert len(again.Scalars("acc/test")) == 4


def test_colliding_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share the log name"):
        write_histories(tmp_path, {"a b": [], "a_b": []})


@pytest.mark.slow
def test_run_writes_csv_and_tensorboard_logs_end_to_end(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, tb = tmp_path / "results", tmp_path / "tb"
    code = main(["run", "task3", "--profile", "quick", "--out", str(out), "--no-progress", "--tensorboard", str(tb),
                 "--set", "models=64-64,32-32-32", "--set", "epochs=2", "--set", "train_limit=300",
                 "--set", "test_limit=200"])
    capsys.readouterr()
    assert code == 0
    csvs = sorted((out / "task3" / "history").glob("*.csv"))
    # where Task 3 trains in bf16 it also trains its first MLP in fp32: one more network, one more log
    fp32_twin = json.loads((out / "task3" / "result.json").read_text())["config"]["precision"] == "bf16"
    assert len(csvs) == 2 + fp32_twin
    for path in csvs:
        assert [int(r["epoch"]) for r in _read_csv(path)] == [1, 2]
        acc = EventAccumulator(str(tb / "task3" / path.stem))
        acc.Reload()
        assert [e.step for e in acc.Scalars("acc/test")] == [1, 2]


def test_tensorboard_dir_reaches_the_task_context(tmp_path):
    """`--tensorboard DIR` is handed to the runner and stored on the Context, where the runner's log writer finds it."""
    from dataclasses import dataclass

    import torch

    from mnistlab.execution.runner import run_task
    from mnistlab.tasks.base import Result, Task

    @dataclass(frozen=True)
    class Cfg:
        size: int = 1

    seen = []
    fake = Task(name="fake", title="Fake", config_cls=Cfg, profiles={},
                analyse=lambda config, ctx: seen.append(ctx.tensorboard_dir) or Result())
    run_task(fake, profile="quick", config=Cfg(), out=tmp_path / "results", device=torch.device("cpu"), seed=0,
             tensorboard_dir=tmp_path / "tb", log=lambda _: None)
    assert seen == [tmp_path / "tb"]
