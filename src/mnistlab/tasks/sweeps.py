"""What the sweeps of Tasks 3 and 4 (and the tasks that reuse their networks) share: one classifier sub-run per
spec, their trained records as rows, metrics, tables, figures and learning-curve summaries, and the verdict of
a tested comparison as a task's prose quotes it. Not a task: tasks import this, never each other."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from mnistlab.execution.subrun import SubRun
from mnistlab.models import ModelSpec
from mnistlab.tasks.base import Context, Figure, Table
from mnistlab.tasks.common import classifier_run
from mnistlab.train import TrainConfig, count_parameters


def sweep_runs(specs: list[ModelSpec], cfg: TrainConfig, *, seed: int, train_limit: int | None = None,
               test_limit: int | None = None, keep_first: bool = True) -> list[SubRun]:
    """One classifier sub-run per spec. The first, the brief's network, keeps its checkpoint: Task 5 looks
    inside CNN-1 and the permutation task rewires the brief's MLP."""
    return [classifier_run(spec, cfg, seed=seed, train_limit=train_limit, test_limit=test_limit,
                           keep_checkpoint=keep_first and i == 0, name=f"{spec.name} [{i + 1}/{len(specs)}]")
            for i, spec in enumerate(specs)]


def sweep_rows(ctx: Context, runs: list[SubRun]) -> list[dict[str, Any]]:
    """The trained record of each sweep sub-run plus 'spec', 'name' and 'depth' (weight layers)."""
    rows = []
    for run in runs:
        spec = run.model
        rows.append({**ctx.trained(run).record, "name": spec.name, "spec": spec, "depth": spec.depth})
    return rows


def per_epoch_seconds(row: dict[str, Any]) -> float:
    return row["train_seconds"] / max(len(row["history"]), 1)


def sweep_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Flat metrics of a sweep: '<model>_<metric>' for every model, 'first_<metric>' for the brief's model."""
    metrics: dict[str, float] = {}
    for r in rows:
        key = slug(r["name"])
        for metric in ("train_acc", "test_acc", "test_loss", "train_seconds", "infer_images_per_second", "params"):
            metrics[f"{key}_{metric}"] = r[metric]
    for metric in ("train_acc", "test_acc", "train_loss", "test_loss", "params", "train_seconds"):
        metrics[f"first_{metric}"] = rows[0][metric]
    return metrics


def sweep_curve_figures(ctx: Context, rows: list[dict[str, Any]], family: str) -> list[Figure]:
    """Learning curves of a sweep's first model (the brief's) and of every model, saved as figures."""
    from mnistlab.viz.sweeps import curves_per_model

    first = rows[0]
    return [
        ctx.figure(curves_per_model(rows[:1], f"{first['name']}: train (dashed) and test (solid) per epoch"),
                   "curves_first", f"{first['name']}: accuracy and cross-entropy loss per epoch on train and test "
                                   "data (train: running mean over the epoch's batches)."),
        ctx.figure(curves_per_model(rows, f"All {family}s: train (dashed) and test (solid) per epoch"),
                   "curves_all", f"Learning curves of every {family} of the sweep."),
    ]


def size_figure(ctx: Context, families: dict[str, list[list[SubRun]]], title: str, caption: str) -> Figure:
    """The accuracy-vs-size figure of sweeps, saved as accuracy_vs_size.png. `families`: family -> its
    sub-runs in each seed (one list per seed, the models in the same order). With one seed each point is
    that network; with several, the mean over the seeds with its 95% t-interval (`Task.seed_figures`)."""
    from mnistlab.viz.sweeps import accuracy_vs_size

    rows = {family: sweep_rows(ctx, runs[0]) for family, runs in families.items()}
    per_seed = None
    if len(next(iter(families.values()))) > 1:
        per_seed = {}
        for runs in families.values():
            for i, run in enumerate(runs[0]):
                records = [ctx.trained(seed_runs[i]).record for seed_runs in runs]
                per_seed[run.model.name] = {"test_acc": [r["test_acc"] for r in records],
                                            "seconds_per_epoch": [per_epoch_seconds(r) for r in records]}
    return ctx.figure(accuracy_vs_size(rows, title, per_seed=per_seed), "accuracy_vs_size", caption)


def slug(name: str) -> str:
    """A metric-key-safe form of a model name: 'MLP 1000-1000' -> 'mlp_1000_1000'."""
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def summary_table(spec: ModelSpec, caption: str) -> Table:
    """The Keras-like layer table of `spec` (layer, output shape, parameters) as a report table."""
    from mnistlab.models import summary_rows

    model = spec.build()
    rows = [[name, shape_text, params] for name, shape_text, params in summary_rows(model, spec.input_shape)]
    rows.append(["total", "", count_parameters(model)])
    return Table(["layer", "output shape", "parameters"], rows, caption)


def epoch_table(record: dict[str, Any], caption: str) -> Table:
    """Per-epoch train/test loss and accuracy and wall time of one trained model."""
    rows = [[int(h["epoch"]), h["train_loss"], h["train_acc"], h["test_loss"], h["test_acc"], h["seconds"]]
            for h in record["history"]]
    return Table(["epoch", "train loss", "train acc", "test loss", "test acc", "seconds"], rows, caption)


def sweep_table(rows: list[dict[str, Any]], caption: str) -> Table:
    """Depth vs parameters vs accuracy (and time) for a sweep from `train_sweep`."""
    return Table(
        ["model", "weight layers", "parameters", "train acc", "test acc", "test loss", "train s/epoch",
         "inference img/s"],
        [[r["name"], r["depth"], r["params"], r["train_acc"], r["test_acc"], r["test_loss"],
          per_epoch_seconds(r), r["infer_images_per_second"]] for r in rows],
        caption)


@dataclass(frozen=True)
class Curve:
    """One network's learning curve reduced to the numbers that Tasks 3 and 4 quote (epochs count from 1)."""

    epochs: int
    first_train_acc: float
    last_train_acc: float
    train_acc_rises: bool       # higher after every epoch than after the one before
    first_test_acc: float
    best_test_acc: float
    best_test_epoch: int
    plateau_epoch: int          # from this epoch on, test accuracy stays within PLATEAU_POINTS of its best
                                # (epochs + 1 when the last epoch is further below it)
                                # (epochs + 1: it ends further below)
    min_test_loss: float
    min_test_loss_epoch: int
    last_test_loss: float

    PLATEAU_POINTS = 0.5

    @property
    def test_loss_rose(self) -> bool:
        """The test loss ended above its minimum (by at least the 0.001 that the prose's numbers show)."""
        return self.last_test_loss - self.min_test_loss >= 0.0005

    @property
    def flattens_early(self) -> bool:
        """Test accuracy was within PLATEAU_POINTS of its best from the first half of training on."""
        return self.epochs > 2 and self.plateau_epoch <= self.epochs // 2


def curve_summary(history: list[dict[str, Any]]) -> Curve:
    """The `Curve` of a per-epoch history (as `train.fit` records it)."""
    train = [h["train_acc"] for h in history]
    test = [h["test_acc"] for h in history]
    best = max(history, key=lambda h: h["test_acc"])
    low = min(history, key=lambda h: h["test_loss"])
    near = [abs(best["test_acc"] - a) * 100 <= Curve.PLATEAU_POINTS for a in test]
    plateau = next((int(history[i]["epoch"]) for i in range(len(near)) if all(near[i:])), len(history) + 1)
    return Curve(epochs=len(history), first_train_acc=train[0], last_train_acc=train[-1],
                 train_acc_rises=all(b > a for a, b in pairwise(train)),
                 first_test_acc=test[0], best_test_acc=best["test_acc"], best_test_epoch=int(best["epoch"]),
                 plateau_epoch=plateau, min_test_loss=low["test_loss"],
                 min_test_loss_epoch=int(low["epoch"]), last_test_loss=history[-1]["test_loss"])


@dataclass(frozen=True)
class Verdict:
    """A contrast's computed verdict (`Context.compare`) and what the prose may conclude from it."""

    text: str
    tested: bool = True   # a test (McNemar or paired t) stands behind it, not a bare difference
    a_won: bool = False   # the contrast's first arm beat its second as a configuration (across seeds, adjusted)


def verdict_of(outcome: Any) -> Verdict:
    """The `Verdict` of a `mnistlab.analysis.contrasts.ContrastResult`: `a_won` only for a win across seeds that
    survived the family's adjustment, never for one pair of trained networks."""
    return Verdict(outcome.text, tested=outcome.comparison is not None, a_won=outcome.beat)
