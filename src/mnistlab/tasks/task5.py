"""Task 5: seeing inside CNN-1: its learned filters, its feature maps for a '2' and a '9', and deep dreams.

The network is Task 4.1's CNN-1, trained with exactly Task 4's recipe (the `cnn_*` fields follow
`common.CNN1_TRAINING` per profile): both tasks plan one sub-run, trained once for both.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.constraints import Constrained, Constraints, Interval, OneOf
from mnistlab.data import load
from mnistlab.models import CNN1, build_cnn
from mnistlab.models.inspect import (
    DreamConfig,
    DreamResult,
    class_dream,
    conv_activations,
    conv_filters,
    noise_images,
    spatial_smoothness,
    strongest_channel_share,
    summarise_filters,
)
from mnistlab.runtime import PRECISION, resolve_precision
from mnistlab.subrun import SubRun, Trained
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import CNN1_TRAINING, DATA_LIMITS, classifier_run
from mnistlab.train import BATCH_SIZE, EPOCHS, Precision, TrainConfig
from mnistlab.viz import cnn_inside

DIGITS = (2, 9)          # the brief's two classes
MIN_TEST_PER_CLASS = 892  # MNIST's rarest test class (5) has 892 images


@dataclass(frozen=True)
class Config(Constrained):
    image_rank: int = opt(0, "which test image of a class: 0 = its first in file order")
    filter_summary: Literal["strongest", "mean"] = opt("strongest",
        "which feature map of a filter is shown: the strongest, or the mean")
    filter_columns: int = opt(16, "columns of the filter grids")
    map_columns: int = opt(16, "columns of the feature-map grids")
    steps_per_octave: int = opt(50, "gradient-ascent steps of the dream per octave")
    octaves: int = opt(3, "image scales the dream runs through")
    octave_scale: float = opt(1.5, "size ratio between two octaves")
    lr: float = opt(0.004, "mean pixel change per dream step")
    jitter: int = opt(2, "random shift in pixels before each dream step")
    l2_weight: float = opt(0.02, "weight of the L2 penalty on the dreamt image")
    tv_weight: float = opt(0.02, "weight of the total-variation penalty (smoothness) on the dreamt image")
    noise_amplitude: float = opt(0.2, "amplitude of the noise the dream starts from")
    snapshots: int = opt(5, "intermediate images shown per dream")
    grid_source_digit: int = opt(8, "10-class grid: every class dreamt from this digit")
    # CNN-1's training, exactly Task 4's (common.CNN1_TRAINING per profile), so both plan one sub-run.
    cnn_epochs: int = opt(CNN1_TRAINING["brief"]["epochs"], "training epochs of CNN-1 (Task 4's network)")
    cnn_batch_size: int = opt(CNN1_TRAINING["brief"]["batch_size"], "mini-batch size of CNN-1")
    cnn_precision: Precision = opt(CNN1_TRAINING["brief"]["precision"], "CNN-1's precision: auto, fp32 or bf16")
    cnn_train_limit: int | None = opt(CNN1_TRAINING["brief"]["train_limit"],
                                      "the first n training images for CNN-1 (None: all)")
    cnn_test_limit: int | None = opt(CNN1_TRAINING["brief"]["test_limit"],
                                     "the first n test images for CNN-1 (None: all)")

    def cnn_run(self, seed: int) -> SubRun:
        cfg = TrainConfig(epochs=self.cnn_epochs, batch_size=self.cnn_batch_size, precision=self.cnn_precision,
                          channels_last=CNN1_TRAINING["brief"]["channels_last"])
        return classifier_run(CNN1, cfg, seed=seed, train_limit=self.cnn_train_limit,
                              test_limit=self.cnn_test_limit, keep_checkpoint=True, name="CNN-1")

    def dream(self) -> DreamConfig:
        return DreamConfig(steps_per_octave=self.steps_per_octave, octaves=self.octaves,
                           octave_scale=self.octave_scale, lr=self.lr, jitter=self.jitter,
                           l2_weight=self.l2_weight, tv_weight=self.tv_weight, snapshots=self.snapshots)

    # The dream's knobs are DreamConfig's (this task allows fewer snapshots); CNN-1's training knobs are
    # TrainConfig's and the data limits Task 4's, each under this task's cnn_ name.
    CONSTRAINTS: ClassVar[Constraints] = {
        **DreamConfig.CONSTRAINTS,
        "image_rank": [Interval(0, MIN_TEST_PER_CLASS - 1,
                                message=f"{{name}} must be between 0 and {MIN_TEST_PER_CLASS - 1} (the test set's "
                                        f"rarest digit has {MIN_TEST_PER_CLASS} images)")],
        "filter_summary": [OneOf(("strongest", "mean"), message="unknown {name} {value!r}; choose strongest or mean")],
        "filter_columns": [Interval(4, 64)],
        "map_columns": [Interval(4, 64)],
        "noise_amplitude": [Interval(0, 1, closed="right")],
        "snapshots": [Interval(2, 10, message="{name} must be between 2 and 10")],
        "grid_source_digit": [Interval(0, 9, message="{name} must be a digit 0-9, got {value}")],
        "cnn_epochs": [EPOCHS],
        "cnn_batch_size": [BATCH_SIZE],
        "cnn_precision": [PRECISION],
        "cnn_train_limit": DATA_LIMITS["train_limit"],
        "cnn_test_limit": DATA_LIMITS["test_limit"],
    }

    def cross_check(self) -> None:
        self.dream().octave_sizes(28)  # refuses octaves that shrink the image below 4 pixels


def _cnn_profile(profile: str) -> dict:
    values = CNN1_TRAINING[profile]
    return {f"cnn_{k}": values[k] for k in ("epochs", "batch_size", "precision", "train_limit", "test_limit")}


PROFILES = {
    "quick": {"steps_per_octave": 25, "lr": 0.008, **_cnn_profile("quick")},
    "brief": {"steps_per_octave": 50, "lr": 0.004, **_cnn_profile("brief")},
}


@contextmanager
def _threads(device: torch.device, n: int):
    """Dreaming pushes one small batch at a time: too little work to split over cores, and on a shared
    machine two threads spin-wait on each other (measured 18 ms a step on one thread, 200-500 ms on two)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _pick(labels: torch.Tensor, digit: int, rank: int) -> int:
    return int(torch.nonzero(labels == digit)[rank, 0])


def plan(config: Config, seed: int) -> list[SubRun]:
    return [config.cnn_run(seed)]


# ---- findings: what the analysis measured (numbers and small arrays) -----------------------------------

@dataclass(frozen=True)
class Network:
    """The CNN-1 that was looked inside, and how it came to be."""

    params: int
    train_acc: float
    test_acc: float
    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    lr: float
    reused: bool        # loaded from the sub-run cache (not `Trained.fresh`)
    task4_recipe: bool  # trained exactly as Task 4 trains CNN-1 in this profile, so both plan one sub-run
    profile: str


@dataclass(frozen=True)
class FilterLayer:
    """One conv layer's kernels, trained, and how smooth they are against the same kernels at initialisation."""

    layer: int                      # conv1 = 1
    weight: np.ndarray              # (out, in, k, k)
    tiles: np.ndarray               # (out, k, k): every kernel (one input channel) or one summary per filter
    smoothness: float
    smoothness_init: float
    strongest_share: float | None   # None for a layer that reads one channel

    @property
    def vmax(self) -> float:
        return float(np.abs(self.weight).max())

    @property
    def in_channels(self) -> int:
        return self.weight.shape[1]

    @property
    def two_signed(self) -> float:
        """Share of kernels whose positive and negative weights each hold at least a quarter of the kernel's
        absolute weight: a positive lobe beside a negative one, as in an edge detector."""
        k = self.weight.reshape(-1, self.weight.shape[-2] * self.weight.shape[-1])
        pos, neg = np.clip(k, 0, None).sum(1), np.clip(-k, 0, None).sum(1)
        return float((np.minimum(pos, neg) >= 0.25 * (pos + neg)).mean())


@dataclass(frozen=True)
class MapLayer:
    """One conv layer's feature maps (after its ReLU) for the '2' and the '9' (in DIGITS order)."""

    layer: int
    maps: np.ndarray              # (2, c, h, w)
    zero: tuple[float, float]     # share of units at zero
    silent: tuple[int, int]       # channels zero everywhere
    cosine: float                 # cosine similarity of the two images' maps


@dataclass(frozen=True)
class Probe:
    """The '2' and the '9' whose feature maps are shown (in DIGITS order)."""

    index: dict[int, int]          # digit -> test image index
    images: np.ndarray             # (2, 28, 28)
    predicted: tuple[int, int]
    confidence: tuple[float, float]  # softmax probability of the true digit


@dataclass(frozen=True)
class DreamRow:
    """One class visualisation: its snapshots and what it ended at."""

    target: int
    kind: str                 # "noise" or "image" (the other digit's test image)
    regularised: bool         # with the L2 and TV terms
    start: str                # "noise" or "test #7 ('9')"
    steps: tuple[int, ...]
    confidence: tuple[float, ...]  # p(target) at each snapshot
    images: np.ndarray        # (snapshots, h, w)
    start_logit: float
    final_logit: float
    predicted: int            # the network's class for the final image
    l2: float
    tv: float
    mean_change: float        # mean |final - start| per pixel
    ink_added: float          # sum of the positive part of (final - start)
    ink_removed: float        # sum of the negative part, as a positive number
    start_correlation: float | None  # correlation of the final image with its start (image starts only)

    @property
    def key(self) -> str:
        return f"{self.target}_{self.kind}" if self.regularised else f"{self.target}_noise_unregularised"


@dataclass(frozen=True)
class DreamGrid:
    """Every class dreamt from noise (row 0) and from one test image (row 1)."""

    source_index: int
    starts: np.ndarray       # (2, 28, 28): the first noise start, the test image
    images: np.ndarray       # (2, 10, 28, 28)
    confidence: np.ndarray   # (2, 10): final p(class)
    penalty: np.ndarray      # (2, 10): final l2_weight * sum(x^2) + tv_weight * TV


@dataclass(frozen=True)
class Findings:
    network: Network
    filters: tuple[FilterLayer, ...]
    probe: Probe
    maps: tuple[MapLayer, ...]
    dreams: tuple[DreamRow, ...]  # 2 and 9 from noise and from the other digit, then 2 and 9 from noise without L2/TV
    grid: DreamGrid
    seed: int

    def dream(self, key: str) -> DreamRow:
        return next(d for d in self.dreams if d.key == key)


# ---- computing them ------------------------------------------------------------------------------------

def compute_findings(config: Config, ctx: Context) -> Findings:
    run = config.cnn_run(ctx.seed)
    trained = ctx.trained(run)
    model = trained.model(ctx.device)
    network, filters = _network(config, run, trained, ctx), _filters(model, config, ctx.seed)
    x_test, y_test = load("mnist", "test", normalise="unit", view="image", data_dir=ctx.data_dir)
    probe = _probe(model, x_test, y_test, config.image_rank, ctx.device)
    maps = _maps(model, probe, ctx.device)
    dreams, grid = _dreams(model, x_test, y_test, probe, config, ctx)
    return Findings(network=network, filters=filters, probe=probe, maps=maps, dreams=dreams, grid=grid,
                    seed=ctx.seed)


def _network(config: Config, run: SubRun, trained: Trained, ctx: Context) -> Network:
    record, cfg = trained.record, run.train
    task4 = CNN1_TRAINING["quick" if ctx.profile == "quick" else "brief"]
    same = all(getattr(config, f"cnn_{k}") == task4[k] for k in ("epochs", "batch_size", "train_limit", "test_limit"))
    same = same and resolve_precision(config.cnn_precision, ctx.device) == resolve_precision(task4["precision"],
                                                                                             ctx.device)
    return Network(params=record["params"], train_acc=record["train_acc"], test_acc=record["test_acc"],
                   n_train=config.cnn_train_limit or 60000, n_test=config.cnn_test_limit or 10000,
                   epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, reused=not trained.fresh,
                   task4_recipe=same, profile=ctx.profile)


def _filters(model: torch.nn.Module, config: Config, seed: int) -> tuple[FilterLayer, ...]:
    torch.manual_seed(seed)
    initial = build_cnn(CNN1)  # the very weights CNN-1 started from (same seed, same build)
    layers = []
    for i, (w, w0) in enumerate(zip(conv_filters(model), conv_filters(initial), strict=True), start=1):
        one = w.shape[1] == 1
        tiles = w[:, 0] if one else summarise_filters(w, config.filter_summary)[0]
        layers.append(FilterLayer(layer=i, weight=w.numpy(), tiles=tiles.numpy(), smoothness=spatial_smoothness(w),
                                  smoothness_init=spatial_smoothness(w0),
                                  strongest_share=None if one else strongest_channel_share(w)))
    return tuple(layers)


def _probe(model: torch.nn.Module, x_test: torch.Tensor, y_test: torch.Tensor, rank: int,
           device: torch.device) -> Probe:
    index = {d: _pick(y_test, d, rank) for d in DIGITS}
    images = torch.stack([x_test[index[d]] for d in DIGITS])
    with torch.no_grad():
        p = model(images.to(device)).softmax(1).cpu()
    return Probe(index=index, images=images[:, 0].numpy(), predicted=tuple(int(p[j].argmax()) for j in range(2)),
                 confidence=tuple(float(p[j, d]) for j, d in enumerate(DIGITS)))


def _maps(model: torch.nn.Module, probe: Probe, device: torch.device) -> tuple[MapLayer, ...]:
    x = torch.from_numpy(probe.images)[:, None].to(device)
    layers = []
    for i, m in enumerate((m.cpu() for m in conv_activations(model, x)), start=1):
        layers.append(MapLayer(
            layer=i, maps=m.numpy(), zero=tuple((m[j] == 0).float().mean().item() for j in range(len(DIGITS))),
            silent=tuple(int((m[j].flatten(1).amax(1) == 0).sum()) for j in range(len(DIGITS))),
            cosine=F.cosine_similarity(m[0].flatten(), m[1].flatten(), dim=0).item()))
    return tuple(layers)


def _dreams(model: torch.nn.Module, x_test: torch.Tensor, y_test: torch.Tensor, probe: Probe, config: Config,
            ctx: Context) -> tuple[tuple[DreamRow, ...], DreamGrid]:
    """Targets 2 and 9, each from noise and from the other digit's probe image (a '9' is dreamt into a '2');
    the same two noise starts without L2/TV (what the regularisers do, measured); every class from noise and
    from one test image."""
    dream_cfg, gen = config.dream(), torch.Generator().manual_seed(ctx.seed)
    images = torch.from_numpy(probe.images)[:, None]
    targets = [2, 2, 9, 9]
    inits = torch.cat([noise_images(1, amplitude=config.noise_amplitude, generator=gen), images[1:2],
                       noise_images(1, amplitude=config.noise_amplitude, generator=gen), images[0:1]])
    source_index = _pick(y_test, config.grid_source_digit, config.image_rank)
    grid_inits = torch.cat([noise_images(10, amplitude=config.noise_amplitude, generator=gen),
                            x_test[source_index].expand(10, -1, -1, -1)])
    plain_cfg = replace(dream_cfg, l2_weight=0.0, tv_weight=0.0)
    with _threads(ctx.device, 1), ctx.progress(total=3, desc="deep dream") as bar:
        pair = class_dream(model, inits.to(ctx.device), targets, dream_cfg, generator=gen)
        bar.update()
        plain = class_dream(model, inits[[0, 2]].to(ctx.device), [2, 9], plain_cfg, generator=gen)
        bar.update()
        grid = class_dream(model, grid_inits.to(ctx.device), list(range(10)) * 2, dream_cfg, generator=gen)
        bar.update()
    starts = {0: "noise", 1: f"test #{probe.index[9]} ('9')", 2: "noise", 3: f"test #{probe.index[2]} ('2')"}
    rows = [_dream_row(model, pair, j, t, starts[j], True, ctx.device) for j, t in enumerate(targets)]
    rows += [_dream_row(model, plain, j, t, "noise", False, ctx.device) for j, t in enumerate((2, 9))]
    penalty = dream_cfg.l2_weight * grid.l2 + dream_cfg.tv_weight * grid.tv
    return tuple(rows), DreamGrid(
        source_index=source_index, starts=grid_inits[[0, 10], 0].numpy(),
        images=grid.images[:, 0].reshape(2, 10, *grid.images.shape[-2:]).numpy(),
        confidence=grid.final.confidence.reshape(2, 10).double().numpy(), penalty=penalty.reshape(2, 10).numpy())


def _dream_row(model: torch.nn.Module, result: DreamResult, j: int, target: int, start: str, regularised: bool,
               device: torch.device) -> DreamRow:
    first, last = result.start.images[j], result.images[j]
    change = last - first
    with torch.no_grad():
        predicted = int(model(last[None].to(device)).argmax(1)[0])
    image = start != "noise"
    return DreamRow(
        target=target, kind="image" if image else "noise", regularised=regularised, start=start,
        steps=tuple(snap.step for snap in result.snapshots),
        confidence=tuple(float(snap.confidence[j]) for snap in result.snapshots),
        images=np.stack([snap.images[j, 0].numpy() for snap in result.snapshots]),
        start_logit=float(result.start.logit[j]), final_logit=float(result.final.logit[j]), predicted=predicted,
        l2=float(result.l2[j]), tv=float(result.tv[j]), mean_change=float(change.abs().mean()),
        ink_added=float(change.clamp(min=0).sum()),
        ink_removed=float((-change).clamp(min=0).sum()),
        start_correlation=float(torch.corrcoef(torch.stack([first.flatten(), last.flatten()]))[0, 1])
        if image else None)


# ---- the report: metrics, tables, figures and prose, all drawn from the findings ------------------------

def metrics(f: Findings) -> dict[str, float]:
    net = f.network
    out: dict[str, float] = {"cnn_test_acc": net.test_acc, "cnn_train_acc": net.train_acc, "cnn_params": net.params,
                             "cnn_reused": int(net.reused)}
    for layer in f.filters:
        out[f"conv{layer.layer}_smoothness"] = layer.smoothness
        out[f"conv{layer.layer}_smoothness_init"] = layer.smoothness_init
        if layer.strongest_share is not None:
            out[f"conv{layer.layer}_strongest_share"] = layer.strongest_share
    for layer in f.maps:
        for j, d in enumerate(DIGITS):
            out[f"conv{layer.layer}_zero_fraction_{d}"] = layer.zero[j]
            out[f"conv{layer.layer}_silent_channels_{d}"] = layer.silent[j]
        out[f"conv{layer.layer}_cosine_2_vs_9"] = layer.cosine
    for d in f.dreams:
        out[f"dream_confidence_{d.key}"] = d.confidence[-1]
        out[f"dream_start_confidence_{d.key}"] = d.confidence[0]
        out[f"dream_logit_{d.key}"] = d.final_logit
        out[f"dream_l2_{d.key}"] = d.l2
        out[f"dream_tv_{d.key}"] = d.tv
        out[f"dream_mean_change_{d.key}"] = d.mean_change
        if d.start_correlation is not None:
            out[f"dream_start_correlation_{d.key}"] = d.start_correlation
    for r, kind in enumerate(("noise", "image")):
        out[f"dream_all_mean_confidence_{kind}"] = float(f.grid.confidence[r].mean())
    return out


def tables(f: Findings, config: Config) -> dict[str, Table]:
    index = f.probe.index
    filters = [[f"conv{x.layer}", "x".join(map(str, x.weight.shape)), x.weight.size, round(x.vmax, 4),
                round(x.smoothness, 3), round(x.smoothness_init, 3),
                "-" if x.strongest_share is None else f"{x.strongest_share:.2f} (even: {1 / x.in_channels:.2f})"]
               for x in f.filters]
    maps = [[f"conv{m.layer}", "x".join(map(str, m.maps.shape[1:])), f"{m.zero[0]:.0%}", f"{m.zero[1]:.0%}",
             f"{m.silent[0]} / {m.maps.shape[1]}", f"{m.silent[1]} / {m.maps.shape[1]}", round(m.cosine, 3)]
            for m in f.maps]
    dreams = [[d.target, d.start + ("" if d.regularised else ", no L2/TV"), f"{d.confidence[0]:.4f}",
               f"{d.confidence[-1]:.4f}", round(d.start_logit, 2), round(d.final_logit, 2), d.predicted,
               round(d.l2, 1), round(d.tv, 1), round(d.mean_change, 3)] for d in f.dreams]
    return {
        "filters": Table(
            ["layer", "weight (out x in x k x k)", "weights", "max |w|", "neighbour corr. trained",
             "neighbour corr. at init", "strongest-channel share"], filters,
            "Neighbour correlation: Pearson correlation of horizontally/vertically adjacent kernel weights (each "
            "kernel centred), trained vs the same network at initialisation. Strongest-channel share: mean "
            "fraction of an output filter's squared norm in its strongest input channel."),
        "feature_maps": Table(
            ["layer", "maps (c x h x w)", "zero units '2'", "zero units '9'", "silent channels '2'",
             "silent channels '9'", "cosine('2', '9')"], maps,
            f"Feature maps of test images #{index[2]} ('2') and #{index[9]} ('9'): share of units that the ReLU sets "
            "to zero, channels that are zero everywhere, and the cosine similarity of the two images' maps."),
        "dreams": Table(
            ["target", "start", "p(target) start", "p(target) final", "logit start", "logit final",
             "predicted", "sum x^2", "TV", "mean |change|"], dreams,
            f"Deep dreams of classes 2 and 9. {_recipe(config, f.seed)}."),
    }


def _recipe(config: Config, seed: int) -> str:
    dream = config.dream()
    sizes = dream.octave_sizes(28)
    return (f"{dream.octaves} octaves ({' -> '.join(f'{s}x{s}' for s in sizes)} pixels, upsampled to 28x28 for "
            f"the network), {dream.steps_per_octave} steps each ({dream.total_steps} in all), normalised "
            f"gradient ascent with mean pixel step {dream.lr:g}, random jitter of up to ±{dream.jitter} "
            f"pixels, L2 weight {dream.l2_weight:g} on sum(x^2), total-variation weight {dream.tv_weight:g} "
            f"on sum |neighbour differences|, pixels kept in [0, 1], noise start uniform in "
            f"[0, {config.noise_amplitude:g}], seed {seed}")


def _filter_figures(f: Findings, config: Config, ctx: Context) -> list[Figure]:
    figures = []
    full = next((x for x in f.filters if x.in_channels > 1), None)  # the first layer that reads many channels
    with ctx.progress(total=len(f.filters), desc="filters") as bar:
        for x in f.filters:
            out_ch, in_ch, k, _ = x.weight.shape
            shape, vmax, strongest = tuple(x.weight.shape), x.vmax, config.filter_summary == "strongest"
            what = short = "every kernel"
            if in_ch > 1:
                what = ("for each output filter the input channel with the largest norm" if strongest else
                        f"for each output filter the mean over its {in_ch} input channels")
                short = ("each filter's strongest input channel" if strongest else
                         "each filter's mean over input channels")
            figures.append(ctx.figure(
                cnn_inside.filter_grid(x.tiles, 8 if out_ch <= 32 else config.filter_columns, vmax,
                                       f"conv{x.layer}: {out_ch} filters of {in_ch}x{k}x{k}, colour scale "
                                       f"±{vmax:.3f}\n{short}"),
                f"filters_conv{x.layer}",
                f"conv{x.layer} ({shape}): {what}, one {k}x{k} kernel per output filter, red positive, blue "
                f"negative, on one symmetric scale ±{vmax:.3f} (the layer's largest |weight|)."))
            if x is full:
                figures.append(ctx.figure(
                    cnn_inside.full_kernel_grid(x.weight, vmax, f"conv{x.layer}: all {out_ch} x {in_ch} kernels"),
                    f"filters_conv{x.layer}_full",
                    f"conv{x.layer}: every one of its {out_ch * in_ch:,} kernels ({k}x{k}): column = output filter, "
                    f"row = input channel (a conv1 feature map), same colour scale ±{vmax:.3f}."))
            bar.update()
    return figures


def _map_figures(f: Findings, config: Config, ctx: Context) -> list[Figure]:
    probe, figures = f.probe, []
    titles = [f"test #{probe.index[d]} ('{d}')\npredicted {probe.predicted[j]}, p={probe.confidence[j]:.3f}"
              for j, d in enumerate(DIGITS)]
    for m in f.maps:
        _, c, h, w = m.maps.shape
        figures.append(ctx.figure(
            cnn_inside.feature_maps(list(probe.images), titles, list(m.maps), config.map_columns,
                                    f"conv{m.layer} feature maps ({c} channels of {h}x{w}), after ReLU"),
            f"feature_maps_conv{m.layer}",
            f"conv{m.layer}: all {c} feature maps (output of conv{m.layer} after its ReLU, {h}x{w}) for test image "
            f"#{probe.index[2]} (a '2', top) and #{probe.index[9]} (a '9', bottom); one colour scale for both rows, "
            f"0 to the largest activation."))
    return figures


def _dream_figures(f: Findings, config: Config, ctx: Context) -> list[Figure]:
    index, grid, recipe = f.probe.index, f.grid, _recipe(config, f.seed)
    rows = [{"label": f"class {d.target}\nfrom {d.start}{'' if d.regularised else ', no L2/TV'}",
             "target": d.target, "steps": list(d.steps), "confidence": list(d.confidence), "images": list(d.images)}
            for d in f.dreams]
    return [
        ctx.figure(
            cnn_inside.dream_progress(rows, "Deep dream of classes 2 and 9: gradient ascent on the class logit"),
            "dream_progress",
            f"Class visualisation for 2 and 9, from noise and from the other digit's test image (#{index[9]}, a "
            f"'9', for class 2; #{index[2]}, a '2', for class 9); the last two rows repeat the noise starts without "
            f"L2 and TV. Snapshots along the way with the softmax confidence of the target class, and the change "
            f"from the start. {recipe}."),
        ctx.figure(
            cnn_inside.dream_classes(
                list(grid.starts), ["noise start", f"test #{grid.source_index}"],
                [list(grid.images[r]) for r in range(2)], grid.confidence,
                ["from noise", f"from a '{config.grid_source_digit}'"],
                "Deep dream of every class, same recipe: p = final softmax confidence of that class"),
            "dream_all_classes",
            f"Class visualisation for all ten digits, from noise (top; each class its own noise draw, the first "
            f"shown) and from test image #{grid.source_index}, a '{config.grid_source_digit}' (bottom; the same "
            f"start for every class). {recipe}."),
    ]


def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    figures = _filter_figures(f, config, ctx) + _map_figures(f, config, ctx) + _dream_figures(f, config, ctx)
    return Result(metrics=metrics(f), tables=tables(f, config), figures=figures,
                  paragraphs=prose(f, config))


# ---- prose: the brief's questions, answered from the findings ---------------------------------------------

def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'network', 'filters', 'feature_maps' and 'dreams'."""
    return {"network": _network_text(f.network), "filters": _filters_text(f, config),
            "feature_maps": _maps_text(f, config), "dreams": _dreams_text(f, config)}


def _network_text(net: Network) -> str:
    if net.reused:
        how = ("It was loaded from the sub-run cache (the CNN-1 checkpoint trained earlier with Task 4's recipe and "
               "this seed, by Task 4 or an earlier run of this task), not trained again." if net.task4_recipe else
               "It was loaded from the sub-run cache (the CNN-1 checkpoint trained earlier with this recipe and "
               "seed), not trained again.")
    else:
        how = ("No cached checkpoint with this recipe and seed existed, so it was trained here, once; "
               + ("Task 4 will load the same checkpoint." if net.task4_recipe else
                  f"the recipe is not Task 4's for the {net.profile} profile, so Task 4 trains its own."))
    return (f"The network is CNN-1 of Task 4.1 ({net.params:,} parameters: conv 32-64-128, 4x4 kernels, "
            f"strides 1-2-2, 'same' padding, ReLU, dense 10), trained on {net.n_train:,} training images, "
            f"{net.epochs} epoch(s), batch {net.batch_size}, Adam lr {net.lr:g}; test accuracy "
            f"{net.test_acc:.2%} on {net.n_test:,} test images. " + how)


def _filters_text(f: Findings, config: Config) -> str:
    conv1, deeper = f.filters[0], [x for x in f.filters if x.strongest_share is not None]
    k = conv1.weight.shape[-1]
    full = deeper[0].weight.shape if deeper else None
    smooth = ", ".join(f"conv{x.layer} {x.smoothness:.2f} (at initialisation {x.smoothness_init:.2f})"
                       for x in f.filters)
    share = ", ".join(f"conv{x.layer} {x.strongest_share:.2f} (even spread: {1 / x.in_channels:.2f})" for x in deeper)
    summary = ("the input channel with the largest L2 norm: a real kernel the layer applies, so its sign pattern "
               "can be read, whereas averaging over input channels lets slices of opposite sign cancel"
               if config.filter_summary == "strongest" else "the mean over input channels")
    if conv1.smoothness - conv1.smoothness_init > 0.1:
        what = ("oriented edge and stroke detectors (a positive lobe beside a negative one) rather than pixel noise"
                if conv1.two_signed >= 0.5 else
                f"smooth stroke detectors rather than pixel noise (only {conv1.two_signed:.0%} of them set a "
                "positive lobe beside a negative one, as an edge detector would)")
        verdict = (f"training made conv1's kernels smooth: adjacent weights now correlate at "
                   f"{conv1.smoothness:.2f} against {conv1.smoothness_init:.2f} for the same kernels at "
                   f"initialisation, so they have become {what}. Digits are strokes of a few orientations on a black "
                   f"background; light-to-dark transitions at each orientation are what a {k}x{k} first layer can "
                   f"and needs to detect")
    else:
        verdict = (f"conv1's kernels are still close to their random initialisation (neighbour correlation "
                   f"{conv1.smoothness:.2f} vs {conv1.smoothness_init:.2f} at initialisation): this short "
                   f"training moved them little, so read the stroke-like structure with care")
    spread = ("their weight is spread over many input channels" if all(x.strongest_share < 0.5 for x in deeper)
              else "their weight is not spread evenly over the input channels")
    full_text = (f"; and the full grid of conv{deeper[0].layer}'s {full[0]} x {full[1]} kernels" if deeper else "")
    return (
        f"Filters (figures filters_conv*): all {conv1.weight.shape[0]} conv1 kernels; for deeper layers one {k}x{k} "
        f"kernel per output filter, {summary}{full_text}. One symmetric colour scale per layer, centred on 0 "
        f"(white), red positive, blue negative. Observation: {verdict}. Neighbour correlation per layer: {smooth}. "
        f"Deeper kernels combine feature maps, not pixels, and {spread} (share of a filter's energy in its "
        f"strongest channel: {share}), so a single slice shows only part of each filter"
        + (f"; that is why conv{deeper[0].layer} is also shown in full." if deeper else "."))


def _maps_text(f: Findings, config: Config) -> str:
    maps, index = f.maps, f.probe.index
    cos = [m.cosine for m in maps]
    numbers = "; ".join(f"conv{m.layer}: {m.zero[0]:.0%} / {m.zero[1]:.0%} of units zero, cosine similarity of the "
                        f"two images' maps {m.cosine:.2f}" for m in maps)
    trend = ("decreases with depth: early layers respond to the strokes both digits share, later layers to "
             "class-specific combinations that the final dense layer separates"
             if all(a > b for a, b in pairwise(cos)) else
             "does not fall steadily with depth in this run, so the layers' class specificity is not visible "
             "in this one pair of images")
    sparser = ("the activations get sparser with depth"
               if all(all(a.zero[j] < b.zero[j] for a, b in pairwise(maps)) for j in range(len(DIGITS)))
               else "sparsity does not grow monotonically with depth")
    size = [f"{m.maps.shape[2]}x{m.maps.shape[3]}" for m in maps]
    return (
        f"Feature maps (figures feature_maps_conv*): test images #{index[2]} ('2') and #{index[9]} ('9'), the "
        f"{_ordinal(config.image_rank)} test image of each class; every channel of each conv layer after its ReLU, "
        f"one colour scale per layer shared by both images. conv1 ({size[0]}, stride 1) keeps the digit's shape: "
        f"each channel is a filtered copy of it that brings out the stroke, or edges on one side of it; the "
        f"stride-2 layers conv2 ({size[1]}) and conv3 ({size[2]}) keep coarser maps of where a feature occurs. "
        f"Measured ('2' / '9'): {numbers}. The similarity of the two digits' maps {trend}; {sparser}.")


def _dreams_text(f: Findings, config: Config) -> str:
    d = {key: f.dream(key) for key in ("2_noise", "9_noise", "2_image", "9_image")}
    plain = {t: f.dream(f"{t}_noise_unregularised") for t in (2, 9)}

    rises = {t: d[f"{t}_noise"].confidence[-1] > d[f"{t}_noise"].confidence[0] for t in (2, 9)}

    def moves(t: int, verb: bool = True) -> str:
        a, b = d[f"{t}_noise"].confidence[0], d[f"{t}_noise"].confidence[-1]
        return f"p({t}) {('rises ' if rises[t] else 'falls ') if verb else ''}from {a:.3f} to {b:.3f}"

    images = (d["2_image"], d["9_image"])
    corr = [r.start_correlation for r in images]
    removed = all(r.ink_removed >= 0.1 * r.ink_added for r in images)
    flipped = all(r.predicted == r.target for r in images)  # the network now names the target class
    if min(corr) > 0.5:
        kept = (f"Much of the original digit survives (the final image correlates with its start at {corr[0]:.2f} "
                f"and {corr[1]:.2f}), " + ("so small, local edits suffice to move the class score. " if flipped else
                                           "and these edits do not make the network predict the target class. "))
    else:
        kept = (f"By the last step the dream has overwritten most of the start (correlation with it only "
                f"{corr[0]:.2f} and {corr[1]:.2f}); " + (
                    "the intermediate snapshots show where the class flips while the original digit is still "
                    "visible. " if flipped else "even so the network does not predict the target class. "))
    noise = f"{moves(2)} and {moves(9, rises[2] != rises[9])}"
    return (
        f"Deep dream (figures dream_progress and dream_all_classes): gradient ascent on the target class's "
        f"pre-softmax logit. From noise, {noise}. From a real image of the other digit, the '9' reaches "
        f"p(2) = {images[0].confidence[-1]:.3f} (from {images[0].confidence[0]:.4f}) and the '2' reaches "
        f"p(9) = {images[1].confidence[-1]:.3f} (from {images[1].confidence[0]:.4f}). The change panels show how: "
        f"ink is added where the target class expects strokes"
        + (" and removed where the source digit's strokes argue against it. " if removed else
           ", and little of the source digit's ink is removed. ")
        + kept + "The dream images are maps of the model's sensitivity: where ink raises the class score most. "
        + _regularisers_text(d, plain) + " " + _grid_text(f, config))


def _regularisers_text(d: dict[str, DreamRow], plain: dict[int, DreamRow]) -> str:
    tv = {t: plain[t].tv / max(d[f"{t}_noise"].tv, 1e-9) for t in (2, 9)}
    l2 = {t: plain[t].l2 / max(d[f"{t}_noise"].l2, 1e-9) for t in (2, 9)}
    text = (f"Without L2 and TV the same noise starts end with {tv[2]:.1f}x / {tv[9]:.1f}x the total variation and "
            f"{l2[2]:.1f}x / {l2[9]:.1f}x the ink (sum x^2) for 2 / 9, at logit {plain[2].final_logit:.1f} / "
            f"{plain[9].final_logit:.1f} against {d['2_noise'].final_logit:.1f} / {d['9_noise'].final_logit:.1f} "
            f"with them")
    if all(plain[t].final_logit > d[f"{t}_noise"].final_logit and tv[t] > 1 and l2[t] > 1 for t in (2, 9)):
        return (text + ": the unregularised ascent buys its extra score with more, and more jagged, ink; the "
                "regularisers keep the strokes sparse and smooth.")
    return (text + ": in this run the regularisers do not show their usual effect on both digits (less and "
                   "smoother ink, paid for with a lower logit).")


def _grid_text(f: Findings, config: Config) -> str:
    conf, penalty = f.grid.confidence, f.grid.penalty
    low = [c for c in range(10) if conf[0, c] < 0.9]
    high = [c for c in range(10) if c not in low]
    text = (f"Across all ten classes the mean final confidence is {conf[0].mean():.3f} from noise and "
            f"{conf[1].mean():.3f} from the same '{config.grid_source_digit}'")
    if not low:
        return text + "."
    text += f"; from noise, class(es) {', '.join(map(str, low))} stay below 0.9"
    if high and penalty[0, low].mean() > penalty[0, high].mean():
        return text + ", the ones whose evidence the regularisers price highest."
    return text + "."


def _ordinal(rank: int) -> str:
    n = rank + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


TASK = Task(
    name="task5",
    title="Task 5: seeing inside the CNN (filters, feature maps, deep dream)",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    description="CNN-1's filters and feature maps for a '2' and a '9', and class visualisations (deep dream)",
    # Brief: 4 s measured (3 octaves of 50 dream steps per class, and the filter and map grids).
    analysis_cost=lambda config: 1.0 + 3.0 * config.octaves * config.steps_per_octave / 150,
)

