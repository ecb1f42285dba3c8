"""Task 3: the brief's MLP [784, 1000, 1000, 10] and four MLPs of other depth and width.

Every model is trained by the one engine (`mnistlab.train.fit`) through the sub-run cache, so an
interrupted sweep resumes and a rerun only redraws the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from mnistlab.constraints import Constrained, Constraints, MinItems, rules_of
from mnistlab.models import parse_spec
from mnistlab.runtime import environment, machine_text
from mnistlab.seeds import SAME_MARGIN, Arm, Contrast
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import (
    DATA_LIMITS,
    MLP_SWEEP,
    MLP_SWEEP_TRAINING,
    Curve,
    Verdict,
    check_model_fits,
    classifier_run,
    curve_summary,
    epoch_table,
    no_repeated_network,
    per_epoch_seconds,
    size_figure,
    slug,
    summary_table,
    sweep_curve_figures,
    sweep_metrics,
    sweep_rows,
    sweep_runs,
    sweep_table,
    verdict_of,
)
from mnistlab.train import Precision, TrainConfig, precision_words

DEFAULT_MODELS = MLP_SWEEP
PRECISION_QUESTION = "bf16 autocast vs fp32"


@dataclass(frozen=True)
class Config(Constrained):
    models: tuple[str, ...] = opt(DEFAULT_MODELS,
        "MLP specs, hidden widths joined by '-' (e.g. 1000-1000); the first is the Task 3.1 model", spec="mlp")
    epochs: int = opt(10, "training epochs per MLP")
    batch_size: int = opt(MLP_SWEEP_TRAINING["batch_size"], "mini-batch size")
    lr: float = opt(1e-3, "Adam learning rate")
    precision: Precision = opt(MLP_SWEEP_TRAINING["precision"],
                               "auto, fp32 or bf16 (auto: bf16 where the CPU/GPU computes it natively)")
    train_limit: int | None = opt(None, "the first n training images (None: all 60,000)")
    test_limit: int | None = opt(None, "the first n test images (None: all 10,000)")

    CONSTRAINTS: ClassVar[Constraints] = {
        "models": [MinItems(message="{name} must name at least one MLP, e.g. 1000-1000"),
                   no_repeated_network("models=1000-1000,500")],
        **rules_of(TrainConfig, "epochs", "batch_size", "lr", "precision"),
        **DATA_LIMITS,
    }

    def cross_check(self) -> None:
        for text in self.models:
            check_model_fits(parse_spec(text, "MLP"), "models")


PROFILES = {
    "quick": {"epochs": 1, "train_limit": 6000, "test_limit": 2000},
    "brief": {"epochs": 10},
}

def _train_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, precision=config.precision)


def _sweep(config: Config, seed: int) -> list[SubRun]:
    return sweep_runs([parse_spec(text, "MLP") for text in config.models], _train_config(config), seed=seed,
                      train_limit=config.train_limit, test_limit=config.test_limit)


def compares_precision(config: Config) -> bool:
    """Whether the first MLP is also trained in fp32: only when the task trains in bf16. The runner has
    resolved "auto" for its device by then (`for_device`); where bf16 is not native it resolves to fp32,
    and there is no second precision to compare."""
    return config.precision == "bf16"


def fp32_twin(config: Config, seed: int) -> SubRun:
    """The first (the brief's) MLP trained in fp32, from the same first weights as its bf16 run."""
    spec = parse_spec(config.models[0], "MLP")
    return classifier_run(spec, replace(_train_config(config), precision="fp32"), seed=seed,
                          train_limit=config.train_limit, test_limit=config.test_limit, name=f"{spec.name} fp32")


def plan(config: Config, seed: int) -> list[SubRun]:
    return _sweep(config, seed) + ([fp32_twin(config, seed)] if compares_precision(config) else [])


def contrasts(config: Config) -> list[Contrast]:
    """The brief's MLP against every other MLP of the sweep; then, when it trained in bf16, against itself
    trained in fp32."""
    first = parse_spec(config.models[0], "MLP").name

    def arm(i: int) -> Arm:
        name = parse_spec(config.models[i], "MLP").name
        return Arm(name, f"{slug(name)}_test_acc", run=lambda seed: _sweep(config, seed)[i])

    out = [Contrast(arm(0), arm(i), "depth and width") for i in range(1, len(config.models))]
    if compares_precision(config):
        fp32 = Arm(f"{first} fp32", f"{slug(first)}_fp32_test_acc", run=lambda seed: fp32_twin(config, seed))
        out.append(Contrast(replace(arm(0), label=f"{first} bf16 autocast"), fp32, PRECISION_QUESTION,
                            margin=SAME_MARGIN))
    return out


@dataclass(frozen=True)
class Findings:
    """What Task 3's analysis measured: numbers only; tables, figures and prose are drawn from it."""

    rows: tuple[dict[str, Any], ...]  # each MLP's trained record + 'name', 'spec', 'depth'; config.models order
    n_train: int                      # training images
    curve: Curve                      # the first (Task 3.1) MLP's learning curve
    size: Verdict                     # the largest MLP against the first (empty when the first is the largest)
    fp32: dict[str, Any] | None = None  # the first MLP trained in fp32 (a sweep row), when it trained in bf16
    precision: Verdict | None = None    # the first MLP in bf16 against fp32, with `fp32`

    @property
    def first(self) -> dict[str, Any]:
        return self.rows[0]

    @property
    def biggest(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: r["params"])

    @property
    def smallest(self) -> dict[str, Any]:
        return min(self.rows, key=lambda r: r["params"])

    @property
    def best(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: r["test_acc"])

    @property
    def deepest(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: r["depth"])


def compute_findings(config: Config, ctx: Context) -> Findings:
    rows = tuple(sweep_rows(ctx, _sweep(config, ctx.seed)))
    fp32 = sweep_rows(ctx, [fp32_twin(config, ctx.seed)])[0] if compares_precision(config) else None
    tested = contrasts(config)
    measured = metrics(rows, fp32)
    biggest = max(range(len(rows)), key=lambda i: rows[i]["params"])
    size = verdict_of(ctx.compare(tested[biggest - 1], measured)) if biggest > 0 else Verdict("", tested=False)
    precision = verdict_of(ctx.compare(tested[-1], measured)) if fp32 is not None else None
    return Findings(rows=rows, n_train=config.train_limit or 60000, curve=curve_summary(rows[0]["history"]),
                    size=size, fp32=fp32, precision=precision)


def metrics(rows: Sequence[dict[str, Any]], fp32: dict[str, Any] | None) -> dict[str, float]:
    """The sweep's metrics; with an fp32 run of the first MLP also its accuracy, time and bf16's speed-up."""
    out = sweep_metrics(list(rows))
    if fp32 is not None:
        key, first = slug(rows[0]["name"]), rows[0]
        out[f"{key}_fp32_test_acc"], out[f"{key}_fp32_train_acc"] = fp32["test_acc"], fp32["train_acc"]
        out[f"{key}_fp32_seconds_per_epoch"] = per_epoch_seconds(fp32)
        out[f"{key}_seconds_per_epoch"] = per_epoch_seconds(first)
        # bf16's speed-up: how many times faster it trained than fp32 (a time, so named as one)
        out["fp32_over_bf16_seconds_per_epoch"] = per_epoch_seconds(fp32) / per_epoch_seconds(first)
    return out


def _precision_table(first: dict[str, Any], fp32: dict[str, Any], machine: str) -> Table:
    return Table(
        ["precision", "train acc", "test acc", "test loss", "train s/epoch", "inference img/s"],
        [[words, r["train_acc"], r["test_acc"], r["test_loss"], per_epoch_seconds(r), r["infer_images_per_second"]]
         for words, r in (("bf16 autocast", first), ("fp32", fp32))],
        f"{first['name']} trained twice from the same first weights, in bf16 autocast and in fp32. {machine}")


SIZE_TITLE = "MLPs: depth vs parameters vs accuracy"
SIZE_CAPTION = ("Test accuracy and training time per epoch against parameter count; labels give the number of "
                "weight layers.")


def analyse(config: Config, ctx: Context) -> Result:
    findings = compute_findings(config, ctx)
    rows, first = list(findings.rows), findings.first
    result = Result(metrics=metrics(rows, findings.fp32), text=list(prose(findings, config).values()))
    result.tables["summary"] = summary_table(first["spec"], f"Layers of {first['name']} (Task 3.1).")
    result.tables["epochs"] = epoch_table(first, f"{first['name']}: per-epoch loss, accuracy and wall time "
                                                 f"({findings.n_train:,} training images, batch {config.batch_size}).")
    machine = machine_text(environment(ctx.device))
    result.tables["sweep"] = sweep_table(rows, "Task 3.2: accuracy vs depth (weight layers = hidden + 1) vs "
                                               f"parameters. {machine}")
    if findings.fp32 is not None:
        result.tables["precision"] = _precision_table(first, findings.fp32, machine)
    result.figures += sweep_curve_figures(ctx, rows, "MLP")
    result.figures.append(size_figure(ctx, {"MLP": [_sweep(config, ctx.seed)]}, SIZE_TITLE, SIZE_CAPTION))
    return result


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: accuracy and time against size as means over the seeds, with 95% t-intervals."""
    return [size_figure(ctx, {"MLP": [_sweep(config, s) for s in per_seed_metrics]}, SIZE_TITLE, SIZE_CAPTION)]


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'model' (Task 3.1), 'curves' (only with more than one epoch),
    'sweep' (Task 3.2), 'size' (the conclusion) and 'precision' (only when an fp32 run stands beside bf16)."""
    curves = {"curves": _curves(f)} if f.curve.epochs > 1 else {}
    precision = ({"precision": _precision(f.first, f.fp32, f.precision)}
                 if f.fp32 is not None and f.precision is not None else {})
    return {"model": _model(f, config), **curves, "sweep": _sweep_text(f), "size": _size(f), **precision}


def _model(f: Findings, config: Config) -> str:
    first = f.first
    return (
        f"Task 3.1: {first['name']} ({first['params']:,} parameters) was trained with Adam (lr {config.lr:g}, "
        f"batch {config.batch_size}, {f.curve.epochs} epoch(s), {precision_words(config.precision)}). It reaches "
        f"{first['train_acc']:.2%} accuracy on the training data and {first['test_acc']:.2%} on the test data "
        f"(test loss {first['test_loss']:.3f}). The softmax is folded into the loss: the network outputs logits "
        f"and cross-entropy applies log-softmax, the numerically stable form of 'softmax layer + cross-entropy'.")


def _curves(f: Findings) -> str:
    c, first = f.curve, f.first
    gap = (first["train_acc"] - first["test_acc"]) * 100
    rises = "rises every epoch" if c.train_acc_rises else "does not rise every epoch"
    best = f"{c.best_test_acc:.2%} at epoch {c.best_test_epoch}"
    test = f"flattens early (best {best})" if c.flattens_early else f"peaks at {best}"
    if not c.test_loss_rose:
        ending = (f"the test loss has not turned up, so these {c.epochs} epochs show no over-fitting yet (train-test "
                  f"gap {gap:.2f} points)")
    else:
        memorised = ("once the training set is nearly memorised" if first["train_acc"] >= 0.99 else
                     "as the network fits the training set more closely")
        ending = (f"{memorised} (train-test gap {gap:.2f} points) the network grows more confident on the test "
                  f"digits it gets wrong, the usual sign of over-fitting without regularisation; early stopping on a "
                  f"validation split or dropout would keep the best epoch")
    return (f"The learning curves: training accuracy {rises} ({c.first_train_acc:.2%} after epoch 1, "
            f"{c.last_train_acc:.2%} after epoch {c.epochs}), while test accuracy {test}. The test loss is lowest "
            f"at epoch {c.min_test_loss_epoch} ({c.min_test_loss:.3f}) and ends at {c.last_test_loss:.3f}: {ending}.")


def _sweep_text(f: Findings) -> str:
    best, biggest, smallest, deepest = f.best, f.biggest, f.smallest, f.deepest
    spread = (best["test_acc"] - min(r["test_acc"] for r in f.rows)) * 100
    return (
        f"Task 3.2: across the {len(f.rows)} MLPs test accuracy spans {spread:.2f} percentage points. The best is "
        f"{best['name']} ({best['test_acc']:.2%}, {best['params']:,} parameters, {best['depth']} weight layers); "
        f"the largest, {biggest['name']} ({biggest['params']:,}), scores {biggest['test_acc']:.2%} and the smallest, "
        f"{smallest['name']} ({smallest['params']:,}, {smallest['params'] / biggest['params']:.0%} of the largest), "
        f"{smallest['test_acc']:.2%}; the deepest, {deepest['name']} ({deepest['depth']} weight layers), "
        f"{deepest['test_acc']:.2%}. Training took {per_epoch_seconds(smallest):.1f} s per epoch for the smallest and "
        f"{per_epoch_seconds(biggest):.1f} s for the largest (this run's timings, under whatever else the machine "
        f"ran: compare them with care; the arithmetic per image is proportional to the parameter count, "
        f"{biggest['params'] / smallest['params']:.0f}x between these two).")


def _size(f: Findings) -> str:
    first, biggest = f.first, f.biggest
    if biggest is first:
        claim = (f"Conclusion on size: {first['name']} is the largest MLP of this sweep, so no larger network was "
                 "compared with it.")
    else:
        how = "tested on this seed's test predictions" if f.size.tested else "not tested"
        claim = (f"Conclusion on size ({biggest['name']} has {biggest['params'] / first['params']:.1f}x the parameters "
                 f"of {first['name']}), {how}: {f.size.text}.")
    return (claim + " A fully connected network ignores that neighbouring pixels belong together, so it has to "
            "learn every translation of a stroke separately; more layers and units add capacity (compare the train "
            "and test columns), not that inductive bias. Task 4's convolutions add it.")


def _precision(first: dict[str, Any], fp32: dict[str, Any], verdict: Verdict) -> str:
    bf16_pace, fp32_pace = per_epoch_seconds(first), per_epoch_seconds(fp32)
    speedup = fp32_pace / bf16_pace
    pace = f"{speedup:.2f}x as fast as fp32" if speedup >= 1 else f"at {speedup:.2f}x the speed of fp32, slower"
    how = "tested on this seed's test predictions" if verdict.tested else "not tested"
    return (f"bf16 against fp32: {first['name']} trained with bf16 autocast reached {first['test_acc']:.2%} test "
            f"accuracy at {bf16_pace:.3g} s per epoch; the same network from the same first weights in fp32 reached "
            f"{fp32['test_acc']:.2%} at {fp32_pace:.3g} s per epoch, so bf16 trained {pace} (one run of each on a "
            f"shared machine: compare times with care). Accuracy, {how}: {verdict.text}.")


TASK = Task(
    name="task3",
    title="Task 3: multi-layer perceptrons, depth and width",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="MLP [784,1000,1000,10] with Adam, and four MLPs of 3-7 hidden layers",
    seed_figures=seed_figures,
    default_seeds={"brief": 3},
    # Figures and tables: the brief's 220 s are its six networks' (156 + 63 s) to within a second or two.
    analysis_cost=lambda config: 3.0,
)
