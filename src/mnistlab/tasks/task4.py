"""Task 4: CNN-1 (conv 32-64-128, 4x4, strides 1-2-2, 'same'), four CNNs of other depth and width,
and CNNs beside MLPs (accuracy, parameters, training and inference time).

CNN-1 is trained with exactly `common.CNN1_TRAINING` as `common.classifier_run`, so Task 5 finds
the same checkpoint in the sub-run cache; the MLPs are Task 3's sweep with Task 3's recipe (cache hits
when Task 3 ran first).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

from torch import nn

from mnistlab.constraints import Constrained, Constraints, MinItems, rules_of
from mnistlab.models import CNN1, forward_macs, parse_spec
from mnistlab.runtime import PRECISION, environment, machine_text
from mnistlab.seeds import Arm, Contrast
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import (
    CNN1_TRAINING,
    DATA_LIMITS,
    MLP_SWEEP,
    MLP_SWEEP_TRAINING,
    Curve,
    Verdict,
    check_model_fits,
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
from mnistlab.train import BATCH_SIZE, Precision, TrainConfig, precision_words

# CNN-1 first; then one conv layer, two conv layers, CNN-1 at half width, and CNN-1 plus a fourth
# stride-2 layer: depth 1-4 at fixed width, and width halved at fixed depth.
DEFAULT_MODELS = ("32k4s1-64k4s2-128k4s2", "32k4s2", "32k4s1-64k4s2", "16k4s1-32k4s2-64k4s2",
                  "32k4s1-64k4s2-128k4s2-256k4s2")


@dataclass(frozen=True)
class Config(Constrained):
    models: tuple[str, ...] = opt(DEFAULT_MODELS,
        "CNN specs, <filters>k<kernel>s<stride> per conv layer joined by '-' (e.g. 32k4s1-64k4s2)", spec="cnn")
    epochs: int = opt(CNN1_TRAINING["brief"]["epochs"], "training epochs per CNN")
    batch_size: int = opt(CNN1_TRAINING["brief"]["batch_size"], "mini-batch size of the CNNs")
    lr: float = opt(1e-3, "Adam learning rate")
    precision: Precision = opt(CNN1_TRAINING["brief"]["precision"], "CNNs' precision: auto, fp32 or bf16")
    channels_last: bool = opt(CNN1_TRAINING["brief"]["channels_last"],
                              "train the CNNs in channels-last memory format (faster with oneDNN)")
    train_limit: int | None = opt(None, "the first n training images (None: all 60,000)")
    test_limit: int | None = opt(None, "the first n test images (None: all 10,000)")
    mlp_models: tuple[str, ...] = opt(MLP_SWEEP,
        "the MLPs set beside the CNNs (Task 3's sweep; same spec grammar as task3.models)", spec="mlp")
    mlp_batch_size: int = opt(MLP_SWEEP_TRAINING["batch_size"], "mini-batch size of the MLPs")
    mlp_precision: Precision = opt(MLP_SWEEP_TRAINING["precision"], "MLPs' precision: auto, fp32 or bf16")

    CONSTRAINTS: ClassVar[Constraints] = {
        "models": [MinItems(message="{name} must name at least one CNN, e.g. 32k4s1-64k4s2-128k4s2"),
                   no_repeated_network("models=32k4s1-64k4s2,16k3s1")],
        "mlp_models": [no_repeated_network("mlp_models=1000-1000,500")],
        **rules_of(TrainConfig, "epochs", "batch_size", "lr", "precision"),
        "mlp_batch_size": [BATCH_SIZE],
        "mlp_precision": [PRECISION],
        **DATA_LIMITS,
    }

    def cross_check(self) -> None:
        for text in self.models:
            # the CNN parser names a bad spec; the meta-device build finds one that shrinks the image to nothing
            check_model_fits(parse_spec(text, "CNN"), "models")
        for text in self.mlp_models:
            check_model_fits(parse_spec(text, "MLP"), "mlp_models")


def _profile(name: str) -> dict:
    return dict(CNN1_TRAINING[name])


PROFILES = {"quick": _profile("quick"), "brief": _profile("brief")}


def _cnn_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                       precision=config.precision, channels_last=config.channels_last)


def _mlp_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.mlp_batch_size, lr=config.lr,
                       precision=config.mlp_precision)


def _runs(config: Config, seed: int) -> tuple[list[SubRun], list[SubRun]]:
    limits = {"train_limit": config.train_limit, "test_limit": config.test_limit, "seed": seed}
    cnns = sweep_runs([parse_spec(t, "CNN") for t in config.models], _cnn_config(config), **limits)
    mlps = sweep_runs([parse_spec(t, "MLP") for t in config.mlp_models], _mlp_config(config), **limits)
    return cnns, mlps


def plan(config: Config, seed: int) -> list[SubRun]:
    cnns, mlps = _runs(config, seed)
    return cnns + mlps


def contrasts(config: Config) -> list[Contrast]:
    """CNN-1 (the first CNN) against every other CNN, and against the brief's MLP."""
    def cnn(i: int) -> Arm:
        name = parse_spec(config.models[i], "CNN").name
        return Arm(name, f"{slug(name)}_test_acc", run=lambda seed: _runs(config, seed)[0][i])

    out = [Contrast(cnn(0), cnn(i), "CNN depth and width") for i in range(1, len(config.models))]
    mlp = Arm(parse_spec(config.mlp_models[0], "MLP").name, "mlp_first_test_acc",
              run=lambda seed: _runs(config, seed)[1][0])
    return [*out, Contrast(cnn(0), mlp, "CNN vs MLP")]


@dataclass(frozen=True)
class Findings:
    """What Task 4's analysis measured: numbers only; tables, figures and prose are drawn from it."""

    cnns: tuple[dict[str, Any], ...]  # each CNN's record + 'name', 'spec', 'depth', 'mflops', 'head_share'
    mlps: tuple[dict[str, Any], ...]  # the same for the MLPs set beside them
    n_train: int                      # training images
    curve: Curve                      # the first CNN's learning curve
    mlp_curve: Curve                  # the first MLP's
    first_is_cnn1: bool               # the first CNN is the brief's CNN-1
    mlp_is_brief: bool                # the first MLP is the brief's MLP 1000-1000
    cnn_vs_mlp: Verdict               # the first CNN against the first MLP, from ctx.compare

    @property
    def first(self) -> dict[str, Any]:
        return self.cnns[0]

    @property
    def mlp(self) -> dict[str, Any]:
        return self.mlps[0]

    @property
    def loosely_linked(self) -> bool:
        """Ordered by parameter count, the CNNs' test accuracies do not rise monotonically."""
        accs = [r["test_acc"] for r in sorted(self.cnns, key=lambda r: r["params"])]
        return any(b < a for a, b in pairwise(accs))


def _with_costs(row: dict[str, Any]) -> dict[str, Any]:
    """A sweep row plus its forward MFLOP per image and the share of its parameters in the last dense layer."""
    model = row["spec"].build()
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    head_params = sum(p.numel() for p in head.parameters())
    return {**row, "mflops": 2 * forward_macs(model) / 1e6, "head_share": head_params / row["params"]}


def compute_findings(config: Config, ctx: Context) -> Findings:
    cnn_runs, mlp_runs = _runs(config, ctx.seed)
    cnns = tuple(_with_costs(r) for r in sweep_rows(ctx, cnn_runs))
    mlps = tuple(_with_costs(r) for r in sweep_rows(ctx, mlp_runs))
    outcome = ctx.compare(contrasts(config)[-1], _metrics(cnns, mlps))
    return Findings(cnns=cnns, mlps=mlps, n_train=config.train_limit or 60000,
                    curve=curve_summary(cnns[0]["history"]), mlp_curve=curve_summary(mlps[0]["history"]),
                    first_is_cnn1=cnns[0]["spec"] == CNN1,
                    mlp_is_brief=mlps[0]["spec"] == parse_spec(MLP_SWEEP[0], "MLP"),
                    cnn_vs_mlp=verdict_of(outcome))


def _metrics(cnns: tuple[dict[str, Any], ...], mlps: tuple[dict[str, Any], ...]) -> dict[str, float]:
    metrics = sweep_metrics(list(cnns))
    metrics["first_is_cnn1"] = float(cnns[0]["spec"] == CNN1)
    metrics["mlp_first_test_acc"] = mlps[0]["test_acc"]
    return metrics


def _tables(f: Findings, config: Config, machine: str) -> dict[str, Table]:
    first, cnns = f.first, list(f.cnns)
    return {
        "summary": summary_table(first["spec"], f"Layers of {first['name']} (Task 4.1): 'same' padding with a 4x4 "
                                                "kernel pads 1 before and 2 after."),
        "epochs": epoch_table(first, f"{first['name']}: per-epoch loss, accuracy and wall time "
                                     f"({f.n_train:,} training images, batch {config.batch_size})."),
        "sweep": sweep_table(cnns, "Task 4.2: accuracy vs depth (weight layers = conv + dense) vs "
                                   f"parameters. {machine}"),
        "cnn_vs_mlp": Table(
            ["model", "parameters", "forward MFLOP/image", "test acc", "train s/epoch", "inference img/s"],
            [[r["name"], r["params"], r["mflops"], r["test_acc"], per_epoch_seconds(r), r["infer_images_per_second"]]
             for r in cnns + list(f.mlps)],
            f"CNNs (batch {config.batch_size}) beside MLPs (batch {config.mlp_batch_size}), same data, epochs and "
            "optimiser. Inference: the whole test set in batches of 5,000, best of several passes."),
    }


def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    result = Result(metrics=_metrics(f.cnns, f.mlps), tables=_tables(f, config, machine_text(environment(ctx.device))),
                    paragraphs=prose(f, config))
    result.figures += sweep_curve_figures(ctx, list(f.cnns), "CNN")
    result.figures.append(_size_figure(ctx, [_runs(config, ctx.seed)]))
    return result


def _size_figure(ctx: Context, runs_by_seed: list[tuple[list[SubRun], list[SubRun]]]) -> Figure:
    """Accuracy and time against size of the CNNs and MLPs, from one seed's networks or (several) their means."""
    return size_figure(ctx, {"CNN": [cnns for cnns, _ in runs_by_seed], "MLP": [mlps for _, mlps in runs_by_seed]},
                       "CNNs and MLPs: depth vs parameters vs accuracy",
                       "Test accuracy and training time per epoch against parameter count, CNNs and MLPs on the "
                       "same axes; labels give the number of weight layers.")


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: accuracy and time against size as means over the seeds, with 95% t-intervals."""
    return [_size_figure(ctx, [_runs(config, s) for s in per_seed_metrics])]


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'model' (Task 4.1), 'curves' (only with more than one epoch), 'sweep'
    (Task 4.2) and 'cnn_vs_mlp'."""
    curves = {"curves": _curves(f)} if f.curve.epochs > 1 else {}
    return {"model": _model(f, config), **curves, "sweep": _sweep(f), "cnn_vs_mlp": _cnn_vs_mlp(f)}


def _model(f: Findings, config: Config) -> str:
    first = f.first
    if config.batch_size > config.mlp_batch_size:
        batch = (f"Batch {config.batch_size} rather than the MLP's {config.mlp_batch_size}: convolutions keep the CPU "
                 "busier on bigger batches (more images per second, see benchmarks/bench_engine.py) and Adam's steps "
                 "are less noisy, which matters late in training when the test loss starts to drift up.")
    elif config.batch_size == config.mlp_batch_size:
        batch = f"Batch {config.batch_size}, as for the MLP, so the two families see the same number of updates."
    else:
        batch = (f"Batch {config.batch_size}, smaller than the MLP's {config.mlp_batch_size}, so the CNN takes more "
                 "updates per epoch.")
    return (
        f"Task 4.1: {first['name']} ({first['params']:,} parameters) was trained with Adam (lr {config.lr:g}, "
        f"batch {config.batch_size}, {f.curve.epochs} epoch(s), {precision_words(config.precision)}"
        f"{', channels_last' if config.channels_last else ''}): {first['train_acc']:.2%} on the training data, "
        f"{first['test_acc']:.2%} on the test data (test loss {first['test_loss']:.3f}). " + batch)


def _curves(f: Findings) -> str:
    c, first = f.curve, f.first
    climbs = "keeps climbing to" if c.train_acc_rises else "ends at"
    if not c.test_loss_rose:
        loss = f"the test loss ends at its minimum, {c.last_test_loss:.3f}, so no over-fitting shows yet"
    else:
        like = "the same mild over-fitting as the MLP" if f.mlp_curve.test_loss_rose else (
            "mild over-fitting (the MLP's test loss did not turn up)")
        loss = f"the test loss moves from {c.min_test_loss:.3f} (its minimum) to {c.last_test_loss:.3f}, {like}"
    return (f"Learning curves: test accuracy is {c.first_test_acc:.2%} after one epoch and peaks at "
            f"{c.best_test_acc:.2%} (epoch {c.best_test_epoch}); training accuracy {climbs} {c.last_train_acc:.2%} "
            f"while {loss}, on a train-test gap of {(first['train_acc'] - first['test_acc']) * 100:.2f} points.")


def _sweep(f: Findings) -> str:
    cnns = f.cnns
    best = max(cnns, key=lambda r: r["test_acc"])
    worst = min(cnns, key=lambda r: r["test_acc"])
    by_depth = sorted(cnns, key=lambda r: (r["depth"], r["params"]))
    per_param = max(cnns, key=lambda r: r["test_acc"] / r["params"])
    shallow = by_depth[0]
    if shallow["head_share"] > 0.5:
        why = (f"A shallow CNN keeps a large feature map, so most of its parameters sit in the dense head "
               f"({shallow['head_share']:.0%} of {shallow['name']}'s); each extra stride-2 convolution widens the "
               "receptive field and shrinks that head, ")
    else:
        why = (f"Even the shallowest CNN, {shallow['name']}, keeps only {shallow['head_share']:.0%} of its parameters "
               "in the dense head, ")
    link = ("which is why parameters and accuracy are only loosely linked here" if f.loosely_linked else
            "and accuracy rises with the parameter count here")
    return (
        f"Task 4.2: the {len(cnns)} CNNs range from {worst['test_acc']:.2%} ({worst['name']}, {worst['params']:,} "
        f"parameters, {worst['depth']} weight layers) to {best['test_acc']:.2%} ({best['name']}, "
        f"{best['params']:,} parameters, {best['depth']} weight layers). By depth: "
        + "; ".join(f"{r['depth']} layers, {r['params']:,} parameters: {r['test_acc']:.2%}" for r in by_depth)
        + f". {why}{link} (most accuracy per parameter: {per_param['name']}).")


def _cnn_vs_mlp(f: Findings) -> str:
    first, mlp = f.first, f.mlp
    best_mlp = max(f.mlps, key=lambda r: r["test_acc"])
    cnn_name = "CNN-1" if f.first_is_cnn1 else first["name"]
    mlp_name = "the brief's MLP" if f.mlp_is_brief else f"the first MLP, {mlp['name']},"
    more_arithmetic = first["mflops"] > mlp["mflops"]
    cost = (f"Parameters are not cost: a convolution reuses each weight at every position, so {cnn_name} needs "
            if more_arithmetic and first["params"] < mlp["params"] else f"{cnn_name} needs ")
    tested = "Tested on this seed's test predictions" if f.cnn_vs_mlp.tested else "Not tested"
    conclusion = "."
    if f.cnn_vs_mlp.a_won and first["params"] < mlp["params"]:
        conclusion = (f", with {mlp['params'] / first['params']:.1f}x fewer parameters for the CNN: weight sharing "
                      "and locality buy accuracy and a smaller model"
                      + (", paid for in arithmetic per image." if more_arithmetic else "."))
    return (
        f"CNN vs MLP: {first['name']} reaches {first['test_acc']:.2%} with {first['params']:,} parameters, "
        f"{mlp_name} {mlp['test_acc']:.2%} with {mlp['params']:,} ({mlp['params'] / first['params']:.1f}x as "
        f"many; the best MLP here: {best_mlp['test_acc']:.2%}). {cost}{first['mflops']:.1f} MFLOP per image forward "
        f"against the MLP's {mlp['mflops']:.1f}, and trains at {per_epoch_seconds(first):.1f} s per epoch against "
        f"{per_epoch_seconds(mlp):.1f} s, with {first['infer_images_per_second']:,.0f} against "
        f"{mlp['infer_images_per_second']:,.0f} test images per second at inference (this run's timings, under "
        f"whatever else the machine ran: the table's caption names it). {tested}: {f.cnn_vs_mlp.text}{conclusion}")


TASK = Task(
    name="task4",
    title="Task 4: convolutional networks, and CNNs vs MLPs",
    key_table="cnn_vs_mlp",
    key_figure="accuracy_vs_size",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="CNN-1 [32,64,128] 4x4 strides 1-2-2, four more CNNs, and a CNN-vs-MLP comparison",
    default_seeds={"brief": 3},
    seed_figures=seed_figures,
    # Figures and tables; the brief's 386 s are its networks'.
    analysis_cost=lambda config: 4.0,
)
