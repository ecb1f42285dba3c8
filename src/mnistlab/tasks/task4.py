"""Task 4: CNN-1 (conv 32-64-128, 4x4, strides 1-2-2, 'same'), four CNNs of other depth and width,
and CNNs beside MLPs (accuracy, parameters, training and inference time).

CNN-1 is trained with exactly `common.CNN1_TRAINING` as `common.classifier_run`, so Task 5 finds
the same checkpoint in the sub-run cache; the MLPs are Task 3's sweep with Task 3's recipe (cache hits
when Task 3 ran first).
"""

from __future__ import annotations

from dataclasses import dataclass

from mnistlab.errors import ConfigError
from mnistlab.models import CNN1, forward_macs, parse_cnn, parse_mlp
from mnistlab.seeds import Arm, Contrast
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Result, Table, Task
from mnistlab.tasks.common import (
    CNN1_TRAINING,
    MLP_SWEEP,
    MLP_SWEEP_TRAINING,
    build_model,
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

# CNN-1 first; then one conv layer, two conv layers, CNN-1 at half width, and CNN-1 plus a fourth
# stride-2 layer: depth 1-4 at fixed width, and width halved at fixed depth.
DEFAULT_MODELS = ("32k4s1-64k4s2-128k4s2", "32k4s2", "32k4s1-64k4s2", "16k4s1-32k4s2-64k4s2",
                  "32k4s1-64k4s2-128k4s2-256k4s2")


@dataclass(frozen=True)
class Config:
    models: tuple[str, ...] = DEFAULT_MODELS  # <filters>k<kernel>s<stride> per conv layer, joined by '-'
    epochs: int = CNN1_TRAINING["brief"]["epochs"]
    batch_size: int = CNN1_TRAINING["brief"]["batch_size"]
    lr: float = 1e-3
    precision: Precision = CNN1_TRAINING["brief"]["precision"]
    channels_last: bool = CNN1_TRAINING["brief"]["channels_last"]
    train_limit: int | None = None
    test_limit: int | None = None
    mlp_models: tuple[str, ...] = MLP_SWEEP  # the MLPs set beside the CNNs (Task 3's sweep)
    mlp_batch_size: int = MLP_SWEEP_TRAINING["batch_size"]
    mlp_precision: Precision = MLP_SWEEP_TRAINING["precision"]

    def validate(self) -> None:
        if not self.models:
            raise ConfigError("models must name at least one CNN, e.g. 32k4s1-64k4s2-128k4s2")
        check_no_repeats("models", self.models, "models=32k4s1-64k4s2,16k3s1")
        check_no_repeats("mlp_models", self.mlp_models, "mlp_models=1000-1000,500")
        for text in self.models:
            # parse_cnn names a bad spec; the meta-device build finds one that shrinks the image to nothing
            check_model_fits(parse_cnn(text), "models")
        for text in self.mlp_models:
            check_model_fits(parse_mlp(text), "mlp_models")
        _cnn_config(self).validate()
        _mlp_config(self).validate()
        check_data_limits(self.train_limit, self.test_limit)


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
    cnns = sweep_runs([parse_cnn(t) for t in config.models], _cnn_config(config), **limits)
    mlps = sweep_runs([parse_mlp(t) for t in config.mlp_models], _mlp_config(config), **limits)
    return cnns, mlps


def plan(config: Config, seed: int) -> list[SubRun]:
    cnns, mlps = _runs(config, seed)
    return cnns + mlps


def contrasts(config: Config) -> list[Contrast]:
    """CNN-1 (the first CNN) against every other CNN, and against the brief's MLP."""
    def cnn(i: int) -> Arm:
        name = parse_cnn(config.models[i]).name
        return Arm(name, f"{slug(name)}_test_acc", run=lambda seed: _runs(config, seed)[0][i])

    out = [Contrast(cnn(0), cnn(i), "CNN depth and width") for i in range(1, len(config.models))]
    mlp = Arm(parse_mlp(config.mlp_models[0]).name, "mlp_first_test_acc", run=lambda seed: _runs(config, seed)[1][0])
    return [*out, Contrast(cnn(0), mlp, "CNN vs MLP")]


def analyse(config: Config, ctx: Context) -> Result:
    cnn_runs, mlp_runs = _runs(config, ctx.seed)
    cnns, mlps = sweep_rows(ctx, cnn_runs), sweep_rows(ctx, mlp_runs)
    for r in cnns + mlps:
        r["mflops"] = 2 * forward_macs(build_model(r["spec"])) / 1e6
    result = Result(metrics=sweep_metrics(cnns))
    first = cnns[0]
    result.metrics["first_is_cnn1"] = float(first["spec"] == CNN1)
    mlp = mlps[0]
    result.metrics["mlp_first_test_acc"] = mlp["test_acc"]

    n_train = config.train_limit or 60000
    result.tables["summary"] = summary_table(first["spec"], f"Layers of {first['name']} (Task 4.1): 'same' "
                                                           "padding with a 4x4 kernel pads 1 before and 2 after.")
    result.tables["epochs"] = epoch_table(first, f"{first['name']}: per-epoch loss, accuracy and wall time "
                                                 f"({n_train:,} training images, batch {config.batch_size}).")
    result.tables["sweep"] = sweep_table(cnns, "Task 4.2: accuracy vs depth (weight layers = conv + dense) vs "
                                               "parameters. Times on a shared 2-core machine.")
    result.tables["cnn_vs_mlp"] = Table(
        ["model", "parameters", "forward MFLOP/image", "test acc", "train s/epoch", "inference img/s"],
        [[r["name"], r["params"], r["mflops"], r["test_acc"], per_epoch_seconds(r), r["infer_images_per_second"]]
         for r in cnns + mlps],
        f"CNNs (batch {config.batch_size}) beside MLPs (batch {config.mlp_batch_size}), same data, epochs and "
        "optimiser. Inference: the whole test set in batches of 5,000, best of several passes.")
    result.figures += sweep_curve_figures(ctx, cnns, "CNN")
    result.figures.append(ctx.figure(
        accuracy_vs_size({"CNN": cnns, "MLP": mlps}, "CNNs and MLPs: depth vs parameters vs accuracy"),
        "accuracy_vs_size", "Test accuracy and training time per epoch against parameter count, CNNs and "
                            "MLPs on the same axes; labels give the number of weight layers."))
    result.text += _discussion(cnns, mlps, config, ctx.compare(contrasts(config)[-1], result.metrics).text)
    return result


def _discussion(cnns: list[dict], mlps: list[dict], config: Config, cnn_vs_mlp: str) -> list[str]:
    first, mlp = cnns[0], mlps[0]
    hist = first["history"]
    text = [
        f"Task 4.1: {first['name']} ({first['params']:,} parameters) was trained with Adam (lr {config.lr:g}, "
        f"batch {config.batch_size}, {len(hist)} epoch(s), {precision_words(config.precision)}"
        f"{', channels_last' if config.channels_last else ''}): {first['train_acc']:.2%} on the training data, "
        f"{first['test_acc']:.2%} on the test data (test loss {first['test_loss']:.3f}). "
        + (f"Batch {config.batch_size} rather than the MLP's {config.mlp_batch_size}: convolutions keep the CPU "
           "busier on bigger batches (more images per second, see benchmarks/bench_engine.py) and Adam's steps "
           "are less noisy, which matters late in training when the test loss starts to drift up."
           if config.batch_size > config.mlp_batch_size else
           f"Batch {config.batch_size}, as for the MLP, so the two families see the same number of updates."),
    ]
    if len(hist) > 1:
        best_epoch = max(hist, key=lambda h: h["test_acc"])
        text.append(
            f"Learning curves: test accuracy is {hist[0]['test_acc']:.2%} after one epoch and peaks at "
            f"{best_epoch['test_acc']:.2%} (epoch {int(best_epoch['epoch'])}); training accuracy keeps climbing to "
            f"{hist[-1]['train_acc']:.2%} while the test loss moves from {min(h['test_loss'] for h in hist):.3f} "
            f"(its minimum) to {hist[-1]['test_loss']:.3f}, the same mild over-fitting as the MLP, on a train-test "
            f"gap of {(first['train_acc'] - first['test_acc']) * 100:.2f} points.")
    best = max(cnns, key=lambda r: r["test_acc"])
    worst = min(cnns, key=lambda r: r["test_acc"])
    by_depth = sorted(cnns, key=lambda r: (r["depth"], r["params"]))
    per_param = max(cnns, key=lambda r: r["test_acc"] / r["params"])
    text.append(
        f"Task 4.2: the {len(cnns)} CNNs range from {worst['test_acc']:.2%} ({worst['name']}, {worst['params']:,} "
        f"parameters, {worst['depth']} weight layers) to {best['test_acc']:.2%} ({best['name']}, "
        f"{best['params']:,} parameters, {best['depth']} weight layers). By depth: "
        + "; ".join(f"{r['depth']} layers, {r['params']:,} parameters: {r['test_acc']:.2%}" for r in by_depth)
        + ". A shallow CNN keeps a large feature map, so most of its parameters sit in the dense head; each "
          "extra stride-2 convolution widens the receptive field and shrinks that head, which is why "
          f"parameters and accuracy are only loosely linked here (most accuracy per parameter: {per_param['name']}).")
    best_mlp = max(mlps, key=lambda r: r["test_acc"])
    text.append(
        f"CNN vs MLP: {first['name']} reaches {first['test_acc']:.2%} with {first['params']:,} parameters, the "
        f"brief's MLP {mlp['test_acc']:.2%} with {mlp['params']:,} ({mlp['params'] / first['params']:.1f}x as "
        f"many; the best MLP here: {best_mlp['test_acc']:.2%}). Parameters are not cost: a convolution reuses each "
        f"weight at every position, so CNN-1 needs {first['mflops']:.1f} MFLOP per image forward against the "
        f"MLP's {mlp['mflops']:.1f}, and trains at {per_epoch_seconds(first):.1f} s per epoch against "
        f"{per_epoch_seconds(mlp):.1f} s, with {first['infer_images_per_second']:,.0f} against "
        f"{mlp['infer_images_per_second']:,.0f} test images per second at inference (timings on a shared, loaded "
        f"machine). Tested on this seed's test predictions: {cnn_vs_mlp}"
        + (f", with {mlp['params'] / first['params']:.1f}x fewer parameters for the CNN: weight sharing and "
           "locality buy accuracy and a smaller model, paid for in arithmetic per image."
           if cnn_vs_mlp.startswith(first["name"] + " beat") and first["params"] < mlp["params"] else "."))
    return text


TASK = Task(
    name="task4",
    title="Task 4: convolutional networks, and CNNs vs MLPs",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="CNN-1 [32,64,128] 4x4 strides 1-2-2, four more CNNs, and a CNN-vs-MLP comparison",
)
