"""What Task 5's analysis measures, as numbers and small arrays: CNN-1 and how it came to be, its conv layers'
kernels (trained and at initialisation), its feature maps for a '2' and a '9', and deep dreams of classes 2 and
9 and of every class. Reads the trained CNN-1 and trains nothing."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.data import load
from mnistlab.execution.runtime import resolve_precision
from mnistlab.execution.subrun import SubRun, Trained
from mnistlab.models import CNN1, build_cnn
from mnistlab.models.inspect import (
    DreamResult,
    class_dream,
    conv_activations,
    conv_filters,
    noise_images,
    spatial_smoothness,
    strongest_channel_share,
    summarise_filters,
)
from mnistlab.tasks.base import Context
from mnistlab.tasks.common import CNN1_TRAINING
from mnistlab.tasks.task5.config import DIGITS, Config
from mnistlab.tasks.task5.plan import cnn_run


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


def compute_findings(config: Config, ctx: Context) -> Findings:
    run = cnn_run(config, ctx.seed)
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


def metrics(f: Findings) -> dict[str, float]:
    """The flat metrics: CNN-1's accuracy, each layer's smoothness, sparsity and similarity, each dream's end."""
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
