"""Task 3: the brief's MLP [784, 1000, 1000, 10] and four MLPs of other depth and width.

Every model is trained by the one engine (`mnistlab.train.fit`) through the sub-run cache, so an
interrupted sweep resumes and a rerun only redraws the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnistlab.errors import ConfigError
from mnistlab.models import parse_mlp
from mnistlab.seeds import Arm, Contrast
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Result, Task
from mnistlab.tasks.common import (
    MLP_SWEEP,
    MLP_SWEEP_TRAINING,
    check_data_limits,
    check_model_fits,
    check_no_repeats,
    epoch_table,
    per_epoch_seconds,
    slug,
    summary_table,
    sweep_curve_figures,
    sweep_metrics,
    sweep_rows,
    sweep_runs,
    sweep_table,
)
from mnistlab.train import Precision, TrainConfig, precision_words
from mnistlab.viz.sweeps import accuracy_vs_size

DEFAULT_MODELS = MLP_SWEEP


@dataclass(frozen=True)
class Config:
    models: tuple[str, ...] = DEFAULT_MODELS  # hidden widths joined by '-'; the first is the Task 3.1 model
    epochs: int = 10
    batch_size: int = MLP_SWEEP_TRAINING["batch_size"]
    lr: float = 1e-3
    precision: Precision = MLP_SWEEP_TRAINING["precision"]  # bf16 where native: faster, same accuracy
    train_limit: int | None = None
    test_limit: int | None = None

    def validate(self) -> None:
        if not self.models:
            raise ConfigError("models must name at least one MLP, e.g. 1000-1000")
        check_no_repeats("models", self.models, "models=1000-1000,500")
        for text in self.models:
            check_model_fits(parse_mlp(text), "models")
        _train_config(self).validate()
        check_data_limits(self.train_limit, self.test_limit)


PROFILES = {
    "quick": {"epochs": 1, "train_limit": 6000, "test_limit": 2000},
    "brief": {"epochs": 10},
}

def _train_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, precision=config.precision)


def plan(config: Config, seed: int) -> list[SubRun]:
    return sweep_runs([parse_mlp(text) for text in config.models], _train_config(config), seed=seed,
                      train_limit=config.train_limit, test_limit=config.test_limit)


def contrasts(config: Config) -> list[Contrast]:
    """The brief's MLP against every other MLP of the sweep."""
    def arm(i: int) -> Arm:
        name = parse_mlp(config.models[i]).name
        return Arm(name, f"{slug(name)}_test_acc", run=lambda seed: plan(config, seed)[i])

    return [Contrast(arm(0), arm(i), "depth and width") for i in range(1, len(config.models))]


def analyse(config: Config, ctx: Context) -> Result:
    rows = sweep_rows(ctx, plan(config, ctx.seed))
    result = Result(metrics=sweep_metrics(rows))
    first = rows[0]

    n_train = config.train_limit or 60000
    result.tables["summary"] = summary_table(rows[0]["spec"], f"Layers of {first['name']} (Task 3.1).")
    result.tables["epochs"] = epoch_table(first, f"{first['name']}: per-epoch loss, accuracy and wall time "
                                                 f"({n_train:,} training images, batch {config.batch_size}).")
    result.tables["sweep"] = sweep_table(rows, "Task 3.2: accuracy vs depth (weight layers = hidden + 1) vs "
                                               "parameters. Times on a shared 2-core machine.")
    result.figures += sweep_curve_figures(ctx, rows, "MLP")
    result.figures.append(ctx.figure(
        accuracy_vs_size({"MLP": rows}, "MLPs: depth vs parameters vs accuracy"),
        "accuracy_vs_size", "Test accuracy and training time per epoch against parameter count; labels give "
                            "the number of weight layers."))
    biggest = max(range(len(rows)), key=lambda i: rows[i]["params"])
    verdict = (ctx.compare(contrasts(config)[biggest - 1], result.metrics).text if biggest > 0 else
               "the brief's MLP is the largest of this sweep")
    result.text += _discussion(rows, config, verdict)
    return result


def _discussion(rows: list[dict], config: Config, verdict: str) -> list[str]:
    first = rows[0]
    hist = first["history"]
    gap = first["train_acc"] - first["test_acc"]
    best = max(rows, key=lambda r: r["test_acc"])
    biggest = max(rows, key=lambda r: r["params"])
    smallest = min(rows, key=lambda r: r["params"])
    spread = (best["test_acc"] - min(r["test_acc"] for r in rows)) * 100
    text = [
        f"Task 3.1: {first['name']} ({first['params']:,} parameters) was trained with Adam (lr {config.lr:g}, "
        f"batch {config.batch_size}, {len(hist)} epoch(s), {precision_words(config.precision)}). It reaches "
        f"{first['train_acc']:.2%} accuracy on the training data and {first['test_acc']:.2%} on the test data "
        f"(test loss {first['test_loss']:.3f}). The softmax is folded into the loss: the network outputs logits "
        f"and cross-entropy applies log-softmax, the numerically stable form of 'softmax layer + cross-entropy'.",
    ]
    if len(hist) > 1:
        best_epoch = max(hist, key=lambda h: h["test_acc"])
        min_loss = min(hist, key=lambda h: h["test_loss"])
        text.append(
            f"The learning curves: training accuracy rises every epoch ({hist[0]['train_acc']:.2%} after epoch 1, "
            f"{hist[-1]['train_acc']:.2%} after epoch {len(hist)}), while test accuracy flattens early (best "
            f"{best_epoch['test_acc']:.2%} at epoch {int(best_epoch['epoch'])}). The test loss is lowest at epoch "
            f"{int(min_loss['epoch'])} ({min_loss['test_loss']:.3f}) and ends at {hist[-1]['test_loss']:.3f}: once "
            f"the training set is nearly memorised (train-test gap {gap * 100:.2f} points) the network grows more "
            f"confident on the test digits it gets wrong, the usual sign of over-fitting without regularisation; "
            f"early stopping on a validation split or dropout would keep the best epoch.")
    deepest = max(rows, key=lambda r: r["depth"])
    text.append(
        f"Task 3.2: across the {len(rows)} MLPs test accuracy spans {spread:.2f} percentage points. The best is "
        f"{best['name']} ({best['test_acc']:.2%}, {best['params']:,} parameters, {best['depth']} weight layers); "
        f"the largest, {biggest['name']} ({biggest['params']:,}), scores {biggest['test_acc']:.2%} and the smallest, "
        f"{smallest['name']} ({smallest['params']:,}, {smallest['params'] / biggest['params']:.0%} of the largest), "
        f"{smallest['test_acc']:.2%}; the deepest, {deepest['name']} ({deepest['depth']} weight layers), "
        f"{deepest['test_acc']:.2%}. Training took {per_epoch_seconds(smallest):.1f} s per epoch for the smallest and "
        f"{per_epoch_seconds(biggest):.1f} s for the largest (a shared, loaded machine: compare times with care; the "
        f"arithmetic per image is proportional to the parameter count, {biggest['params'] / smallest['params']:.0f}x "
        f"between these two).")
    text.append(
        f"Conclusion on size ({biggest['name']} has {biggest['params'] / first['params']:.1f}x the parameters of "
        f"{first['name']}), tested on this seed's test predictions: {verdict}. A fully connected network ignores "
        "that neighbouring pixels belong together, so it has to learn every translation of a stroke separately; "
        "more layers and units add capacity (compare the train and test columns), not that inductive bias. "
        "Task 4's convolutions add it.")
    return text


TASK = Task(
    name="task3",
    title="Task 3: multi-layer perceptrons, depth and width",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="MLP [784,1000,1000,10] with Adam, and four MLPs of 3-7 hidden layers",
)
