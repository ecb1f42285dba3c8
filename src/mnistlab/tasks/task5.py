"""Task 5: seeing inside CNN-1: its learned filters, its feature maps for a '2' and a '9', and deep dreams.

The network is Task 4.1's CNN-1, trained with exactly Task 4's recipe (the `cnn_*` fields follow
`common.CNN1_TRAINING` per profile): both tasks plan one sub-run, trained once for both.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab.data import load
from mnistlab.errors import ConfigError
from mnistlab.models import CNN1, build_cnn
from mnistlab.models.inspect import (
    DreamConfig,
    class_dream,
    conv_activations,
    conv_filters,
    noise_images,
    spatial_smoothness,
    strongest_channel_share,
    summarise_filters,
)
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Result, Table, Task
from mnistlab.tasks.common import CNN1_TRAINING, check_data_limits, classifier_run
from mnistlab.train import Precision, TrainConfig
from mnistlab.viz import cnn_inside

DIGITS = (2, 9)          # the brief's two classes
MIN_TEST_PER_CLASS = 892  # MNIST's rarest test class (5) has 892 images


@dataclass(frozen=True)
class Config:
    image_rank: int = 0                                   # which test image of a class: 0 = its first in file order
    filter_summary: Literal["strongest", "mean"] = "strongest"
    filter_columns: int = 16
    map_columns: int = 16
    steps_per_octave: int = 50
    octaves: int = 3
    octave_scale: float = 1.5
    lr: float = 0.004                                     # mean pixel change per dream step
    jitter: int = 2
    l2_weight: float = 0.02
    tv_weight: float = 0.02
    noise_amplitude: float = 0.2
    snapshots: int = 5
    grid_source_digit: int = 8                            # 10-class grid: every class dreamt from this digit
    # CNN-1's training, exactly Task 4's (common.CNN1_TRAINING per profile), so both plan one sub-run.
    cnn_epochs: int = CNN1_TRAINING["brief"]["epochs"]
    cnn_batch_size: int = CNN1_TRAINING["brief"]["batch_size"]
    cnn_precision: Precision = CNN1_TRAINING["brief"]["precision"]
    cnn_train_limit: int | None = CNN1_TRAINING["brief"]["train_limit"]
    cnn_test_limit: int | None = CNN1_TRAINING["brief"]["test_limit"]

    def cnn_run(self, seed: int) -> SubRun:
        cfg = TrainConfig(epochs=self.cnn_epochs, batch_size=self.cnn_batch_size, precision=self.cnn_precision,
                          channels_last=CNN1_TRAINING["brief"]["channels_last"])
        return classifier_run(CNN1, cfg, seed=seed, train_limit=self.cnn_train_limit,
                              test_limit=self.cnn_test_limit, keep_checkpoint=True, name="CNN-1")

    def dream(self) -> DreamConfig:
        return DreamConfig(steps_per_octave=self.steps_per_octave, octaves=self.octaves,
                           octave_scale=self.octave_scale, lr=self.lr, jitter=self.jitter,
                           l2_weight=self.l2_weight, tv_weight=self.tv_weight, snapshots=self.snapshots)

    def validate(self) -> None:
        if not 0 <= self.image_rank < MIN_TEST_PER_CLASS:
            raise ConfigError(f"image_rank must be between 0 and {MIN_TEST_PER_CLASS - 1} "
                              f"(the test set's rarest digit has {MIN_TEST_PER_CLASS} images)")
        if self.filter_summary not in ("strongest", "mean"):
            raise ConfigError(f"unknown filter_summary {self.filter_summary!r}; choose strongest or mean")
        if not (4 <= self.filter_columns <= 64 and 4 <= self.map_columns <= 64):
            raise ConfigError("filter_columns and map_columns must be between 4 and 64")
        if not 0 < self.noise_amplitude <= 1:
            raise ConfigError(f"noise_amplitude must be in (0, 1], got {self.noise_amplitude}")
        if not 2 <= self.snapshots <= 10:
            raise ConfigError("snapshots must be between 2 and 10")
        if not 0 <= self.grid_source_digit <= 9:
            raise ConfigError(f"grid_source_digit must be a digit 0-9, got {self.grid_source_digit}")
        dream = self.dream()
        dream.validate()
        dream.octave_sizes(28)
        check_data_limits(self.cnn_train_limit, self.cnn_test_limit)
        self.cnn_run(0).train.validate()


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


def analyse(config: Config, ctx: Context) -> Result:
    result = Result()
    dream_cfg = config.dream()

    # ---- the network: Task 4's CNN-1, one sub-run for both tasks ---------------------------------------
    run = config.cnn_run(ctx.seed)
    trained = ctx.trained(run)
    model, record = trained.model(ctx.device), trained.record
    train_cfg = run.train
    limits = {"train_limit": config.cnn_train_limit, "test_limit": config.cnn_test_limit}
    reused = not trained.fresh
    torch.manual_seed(ctx.seed)
    initial = build_cnn(CNN1)  # the very weights CNN-1 started from (same seed, same build)
    result.metrics.update({"cnn_test_acc": record["test_acc"], "cnn_train_acc": record["train_acc"],
                           "cnn_params": record["params"], "cnn_reused": int(reused)})
    trained_on = (f"{limits['train_limit'] or 60000:,} training images, {train_cfg.epochs} epoch(s), "
                  f"batch {train_cfg.batch_size}, Adam lr {train_cfg.lr:g}")
    result.text.append(
        f"The network is CNN-1 of Task 4.1 ({record['params']:,} parameters: conv 32-64-128, 4x4 kernels, "
        f"strides 1-2-2, 'same' padding, ReLU, dense 10), trained on {trained_on}; test accuracy "
        f"{record['test_acc']:.2%} on {limits['test_limit'] or 10000:,} test images. "
        + ("It was loaded from the sub-run cache (the CNN-1 checkpoint trained earlier with Task 4's recipe and "
           "this seed, by Task 4 or an earlier run of this task), not trained again." if reused else
           "No cached checkpoint with this recipe and seed existed, so it was trained here, once; Task 4 "
           "will load the same checkpoint."))

    # ---- filters ---------------------------------------------------------------------------------------
    weights = conv_filters(model)
    init_weights = conv_filters(initial)
    filter_rows, full_grid_shown = [], False
    with ctx.progress(total=len(weights), desc="filters") as bar:
        for i, (w, w0) in enumerate(zip(weights, init_weights, strict=True), start=1):
            out_ch, in_ch, k, _ = w.shape
            vmax = float(w.abs().max())
            smooth, smooth0 = spatial_smoothness(w), spatial_smoothness(w0)
            share = strongest_channel_share(w) if in_ch > 1 else 1.0
            result.metrics[f"conv{i}_smoothness"] = smooth
            result.metrics[f"conv{i}_smoothness_init"] = smooth0
            if in_ch == 1:
                tiles, what, short = w[:, 0], "every kernel", "every kernel"
            else:
                tiles, _ = summarise_filters(w, config.filter_summary)
                what = ("for each output filter the input channel with the largest norm"
                        if config.filter_summary == "strongest" else "for each output filter the mean over its "
                        f"{in_ch} input channels")
                result.metrics[f"conv{i}_strongest_share"] = share
                short = ("each filter's strongest input channel" if config.filter_summary == "strongest"
                         else "each filter's mean over input channels")
            result.figures.append(ctx.figure(
                cnn_inside.filter_grid(tiles.numpy(), 8 if out_ch <= 32 else config.filter_columns, vmax,
                                       f"conv{i}: {out_ch} filters of {in_ch}x{k}x{k}, colour scale ±{vmax:.3f}\n"
                                       f"{short}"),
                f"filters_conv{i}",
                f"conv{i} ({tuple(w.shape)}): {what}, one {k}x{k} kernel per output filter, red positive, blue "
                f"negative, on one symmetric scale ±{vmax:.3f} (the layer's largest |weight|)."))
            if in_ch > 1 and not full_grid_shown:  # the first layer that reads many channels, in full
                full_grid_shown = True
                result.figures.append(ctx.figure(
                    cnn_inside.full_kernel_grid(w.numpy(), vmax, f"conv{i}: all {out_ch} x {in_ch} kernels"),
                    f"filters_conv{i}_full",
                    f"conv{i}: every one of its {out_ch * in_ch:,} kernels ({k}x{k}): column = output filter, "
                    f"row = input channel (a conv1 feature map), same colour scale ±{vmax:.3f}."))
            filter_rows.append([f"conv{i}", "x".join(map(str, w.shape)), w.numel(), round(vmax, 4),
                                round(smooth, 3), round(smooth0, 3),
                                "-" if in_ch == 1 else f"{share:.2f} (even: {1 / in_ch:.2f})"])
            bar.update()
    result.tables["filters"] = Table(
        ["layer", "weight (out x in x k x k)", "weights", "max |w|", "neighbour corr. trained",
         "neighbour corr. at init", "strongest-channel share"],
        filter_rows,
        "Neighbour correlation: Pearson correlation of horizontally/vertically adjacent kernel weights (each "
        "kernel centred), trained vs the same network at initialisation. Strongest-channel share: mean "
        "fraction of an output filter's squared norm in its strongest input channel.")

    # ---- feature maps of one '2' and one '9' ---------------------------------------------------------
    x_test, y_test = load("mnist", "test", normalise="unit", view="image", data_dir=ctx.data_dir)
    index = {d: _pick(y_test, d, config.image_rank) for d in DIGITS}
    probe = torch.stack([x_test[index[d]] for d in DIGITS]).to(ctx.device)
    with torch.no_grad():
        probe_pred = model(probe).softmax(1).cpu()
    maps = [m.cpu() for m in conv_activations(model, probe)]
    map_rows = []
    for i, m in enumerate(maps, start=1):
        titles = [f"test #{index[d]} ('{d}')\npredicted {int(probe_pred[j].argmax())}, "
                  f"p={float(probe_pred[j, d]):.3f}" for j, d in enumerate(DIGITS)]
        result.figures.append(ctx.figure(
            cnn_inside.feature_maps([probe[j, 0].cpu().numpy() for j in range(len(DIGITS))], titles,
                                    [m[j].numpy() for j in range(len(DIGITS))], config.map_columns,
                                    f"conv{i} feature maps ({m.shape[1]} channels of {m.shape[2]}x{m.shape[3]}), "
                                    f"after ReLU"),
            f"feature_maps_conv{i}",
            f"conv{i}: all {m.shape[1]} feature maps (output of conv{i} after its ReLU, {m.shape[2]}x{m.shape[3]}) "
            f"for test image #{index[2]} (a '2', top) and #{index[9]} (a '9', bottom); one colour scale for both "
            f"rows, 0 to the largest activation."))
        zero = [(m[j] == 0).float().mean().item() for j in range(len(DIGITS))]
        dead = [int((m[j].flatten(1).amax(1) == 0).sum()) for j in range(len(DIGITS))]
        cos = F.cosine_similarity(m[0].flatten(), m[1].flatten(), dim=0).item()
        for j, d in enumerate(DIGITS):
            result.metrics[f"conv{i}_zero_fraction_{d}"] = zero[j]
            result.metrics[f"conv{i}_silent_channels_{d}"] = dead[j]
        result.metrics[f"conv{i}_cosine_2_vs_9"] = cos
        map_rows.append([f"conv{i}", f"{m.shape[1]}x{m.shape[2]}x{m.shape[3]}", f"{zero[0]:.0%}", f"{zero[1]:.0%}",
                         f"{dead[0]} / {m.shape[1]}", f"{dead[1]} / {m.shape[1]}", round(cos, 3)])
    result.tables["feature_maps"] = Table(
        ["layer", "maps (c x h x w)", "zero units '2'", "zero units '9'", "silent channels '2'",
         "silent channels '9'", "cosine('2', '9')"],
        map_rows,
        f"Feature maps of test images #{index[2]} ('2') and #{index[9]} ('9'): share of units that the ReLU sets "
        "to zero, channels that are zero everywhere, and the cosine similarity of the two images' maps.")

    # ---- deep dreams ---------------------------------------------------------------------------------
    gen = torch.Generator().manual_seed(ctx.seed)
    # targets 2 and 9, each from noise and from the other digit's probe image: a '9' is dreamt into a '2'
    targets = [2, 2, 9, 9]
    inits = torch.cat([noise_images(1, amplitude=config.noise_amplitude, generator=gen), probe[1:2].cpu(),
                       noise_images(1, amplitude=config.noise_amplitude, generator=gen), probe[0:1].cpu()])
    source_index = _pick(y_test, config.grid_source_digit, config.image_rank)
    grid_inits = torch.cat([noise_images(10, amplitude=config.noise_amplitude, generator=gen),
                            x_test[source_index].expand(10, -1, -1, -1)])
    # The same two noise starts without L2/TV: measures what the regularisers do instead of asserting it.
    plain_cfg = replace(dream_cfg, l2_weight=0.0, tv_weight=0.0)
    with _threads(ctx.device, 1), ctx.progress(total=3, desc="deep dream") as bar:
        pair = class_dream(model, inits.to(ctx.device), targets, dream_cfg, generator=gen)
        bar.update()
        plain = class_dream(model, inits[[0, 2]].to(ctx.device), [2, 9], plain_cfg, generator=gen)
        bar.update()
        grid = class_dream(model, grid_inits.to(ctx.device), list(range(10)) * 2, dream_cfg, generator=gen)
        bar.update()

    start_label = {0: "noise", 1: f"test #{index[9]} ('9')", 2: "noise", 3: f"test #{index[2]} ('2')"}
    rows, dream_rows = [], []
    runs = [(pair, j, t, "noise" if j % 2 == 0 else "image", start_label[j], True) for j, t in enumerate(targets)]
    runs += [(plain, j, t, "noise", "noise", False) for j, t in enumerate((2, 9))]
    for run_, j, target, kind, label, regularised in runs:
        conf = [float(snap.confidence[j]) for snap in run_.snapshots]
        tag = "" if regularised else ", no L2/TV"
        rows.append({"label": f"class {target}\nfrom {label}{tag}", "target": target,
                     "steps": [snap.step for snap in run_.snapshots], "confidence": conf,
                     "images": [snap.images[j, 0].numpy() for snap in run_.snapshots]})
        first, last = run_.start.images[j], run_.images[j]
        key = f"{target}_{kind}" if regularised else f"{target}_noise_unregularised"
        result.metrics[f"dream_confidence_{key}"] = conf[-1]
        result.metrics[f"dream_start_confidence_{key}"] = conf[0]
        result.metrics[f"dream_logit_{key}"] = float(run_.final.logit[j])
        result.metrics[f"dream_l2_{key}"] = float(run_.l2[j])
        result.metrics[f"dream_tv_{key}"] = float(run_.tv[j])
        result.metrics[f"dream_mean_change_{key}"] = float((last - first).abs().mean())
        if kind == "image":
            result.metrics[f"dream_start_correlation_{key}"] = float(
                torch.corrcoef(torch.stack([first.flatten(), last.flatten()]))[0, 1])
        dream_rows.append([target, label + tag, f"{conf[0]:.4f}", f"{conf[-1]:.4f}",
                           round(float(run_.start.logit[j]), 2), round(float(run_.final.logit[j]), 2),
                           _predict(model, last[None], ctx.device), round(float(run_.l2[j]), 1),
                           round(float(run_.tv[j]), 1), round(float((last - first).abs().mean()), 3)])
    sizes = dream_cfg.octave_sizes(28)
    recipe = (f"{dream_cfg.octaves} octaves ({' -> '.join(f'{s}x{s}' for s in sizes)} pixels, upsampled to 28x28 for "
              f"the network), {dream_cfg.steps_per_octave} steps each ({dream_cfg.total_steps} in all), normalised "
              f"gradient ascent with mean pixel step {dream_cfg.lr:g}, random jitter of up to ±{dream_cfg.jitter} "
              f"pixels, L2 weight {dream_cfg.l2_weight:g} on sum(x^2), total-variation weight {dream_cfg.tv_weight:g} "
              f"on sum |neighbour differences|, pixels kept in [0, 1], noise start uniform in "
              f"[0, {config.noise_amplitude:g}], seed {ctx.seed}")
    result.figures.append(ctx.figure(
        cnn_inside.dream_progress(rows, "Deep dream of classes 2 and 9: gradient ascent on the class logit"),
        "dream_progress",
        f"Class visualisation for 2 and 9, from noise and from the other digit's test image (#{index[9]}, a '9', "
        f"for class 2; #{index[2]}, a '2', for class 9); the last two rows repeat the noise starts without L2 and "
        f"TV. Snapshots along the way with the softmax confidence of the target class, and the change from the "
        f"start. {recipe}."))
    result.tables["dreams"] = Table(
        ["target", "start", "p(target) start", "p(target) final", "logit start", "logit final",
         "predicted", "sum x^2", "TV", "mean |change|"],
        dream_rows, f"Deep dreams of classes 2 and 9. {recipe}.")

    grid_conf = np.array([[float(grid.final.confidence[r * 10 + c]) for c in range(10)] for r in range(2)])
    for r, kind in enumerate(("noise", "image")):
        result.metrics[f"dream_all_mean_confidence_{kind}"] = float(grid_conf[r].mean())
    result.figures.append(ctx.figure(
        cnn_inside.dream_classes(
            [grid_inits[0, 0].numpy(), grid_inits[10, 0].numpy()],
            ["noise start", f"test #{source_index}"],
            [[grid.images[r * 10 + c, 0].numpy() for c in range(10)] for r in range(2)], grid_conf,
            ["from noise", f"from a '{config.grid_source_digit}'"],
            "Deep dream of every class, same recipe: p = final softmax confidence of that class"),
        "dream_all_classes",
        f"Class visualisation for all ten digits, from noise (top; each class its own noise draw, the first "
        f"shown) and from test image #{source_index}, a '{config.grid_source_digit}' (bottom; the same start for "
        f"every class). {recipe}."))

    _discuss(result, weights, index, grid_conf, config)
    return result


def _predict(model: torch.nn.Module, x: torch.Tensor, device: torch.device) -> int:
    with torch.no_grad():
        return int(model(x.to(device)).argmax(1)[0])


def _discuss(result: Result, weights: list[torch.Tensor], index: dict[int, int], grid_conf: np.ndarray,
             config: Config) -> None:
    """The brief's three questions, answered from this run's numbers (claims depend on what was measured)."""
    m = result.metrics
    layers = range(1, len(weights) + 1)
    smooth = ", ".join(f"conv{i} {m[f'conv{i}_smoothness']:.2f} (at initialisation {m[f'conv{i}_smoothness_init']:.2f})"
                       for i in layers)
    share = ", ".join(f"conv{i} {m[f'conv{i}_strongest_share']:.2f} (even spread: {1 / weights[i - 1].shape[1]:.2f})"
                      for i in layers if f"conv{i}_strongest_share" in m)
    summary = ("the input channel with the largest L2 norm: a real kernel the layer applies, so its sign pattern "
               "can be read, whereas averaging over input channels lets slices of opposite sign cancel"
               if config.filter_summary == "strongest" else "the mean over input channels")
    gain = m["conv1_smoothness"] - m["conv1_smoothness_init"]
    if gain > 0.1:
        verdict = (f"training made conv1's kernels smooth: adjacent weights now correlate at "
                   f"{m['conv1_smoothness']:.2f} against {m['conv1_smoothness_init']:.2f} for the same kernels at "
                   f"initialisation, so they have become oriented edge and stroke detectors (a positive lobe beside "
                   f"a negative one) rather than pixel noise. Digits are strokes of a few orientations on a black "
                   f"background; light-to-dark transitions at each orientation are what a 4x4 first layer can and "
                   f"needs to detect")
    else:
        verdict = (f"conv1's kernels are still close to their random initialisation (neighbour correlation "
                   f"{m['conv1_smoothness']:.2f} vs {m['conv1_smoothness_init']:.2f} at initialisation): this short "
                   f"training moved them little, so read the stroke-like structure with care")
    result.text.append(
        f"Filters (figures filters_conv*): all {weights[0].shape[0]} conv1 kernels; for deeper layers one 4x4 kernel "
        f"per output filter, {summary}; and the full grid of conv2's {weights[1].shape[0]} x {weights[1].shape[1]} "
        f"kernels. One symmetric colour scale per layer, centred on 0 (white), red positive, blue negative. "
        f"Observation: {verdict}. Neighbour correlation per layer: {smooth}. Deeper kernels combine feature maps, "
        f"not pixels, and their weight is spread over many input channels (share of a filter's energy in its "
        f"strongest channel: {share}), so a single slice shows only part of each filter; that is why conv2 is "
        f"also shown in full.")
    cos = [m[f"conv{i}_cosine_2_vs_9"] for i in layers]
    zero2 = [m[f"conv{i}_zero_fraction_2"] for i in layers]
    numbers = "; ".join(f"conv{i}: {m[f'conv{i}_zero_fraction_2']:.0%} / {m[f'conv{i}_zero_fraction_9']:.0%} of "
                        f"units zero, cosine similarity of the two images' maps {m[f'conv{i}_cosine_2_vs_9']:.2f}"
                        for i in layers)
    trend = ("decreases with depth: early layers respond to the strokes both digits share, later layers to "
             "class-specific combinations that the final dense layer separates"
             if all(a > b for a, b in pairwise(cos)) else
             "does not fall steadily with depth in this run, so the layers' class specificity is not visible "
             "in this one pair of images")
    sparser = ("the activations get sparser with depth" if all(a < b for a, b in pairwise(zero2))
               else "sparsity does not grow monotonically with depth")
    result.text.append(
        f"Feature maps (figures feature_maps_conv*): test images #{index[2]} ('2') and #{index[9]} ('9'), the "
        f"{_ordinal(config.image_rank)} test image of each class; every channel of each conv layer after its ReLU, "
        f"one colour scale per layer shared by both images. conv1 (28x28, stride 1) keeps the digit's shape: each "
        f"channel is a filtered copy of it that brings out the stroke, or edges on one side of it; the stride-2 "
        f"layers conv2 (14x14) and conv3 "
        f"(7x7) keep coarser maps of where a feature occurs. Measured ('2' / '9'): {numbers}. The similarity of "
        f"the two digits' maps {trend}; {sparser}.")
    conf = {(t, k): m[f"dream_confidence_{t}_{k}"] for t in (2, 9) for k in ("noise", "image")}
    start = {(t, k): m[f"dream_start_confidence_{t}_{k}"] for t in (2, 9) for k in ("noise", "image")}
    corr = {t: m[f"dream_start_correlation_{t}_image"] for t in (2, 9)}
    tv_ratio = {t: m[f"dream_tv_{t}_noise_unregularised"] / max(m[f"dream_tv_{t}_noise"], 1e-9) for t in (2, 9)}
    l2_ratio = {t: m[f"dream_l2_{t}_noise_unregularised"] / max(m[f"dream_l2_{t}_noise"], 1e-9) for t in (2, 9)}
    low = [str(c) for c in range(10) if grid_conf[0, c] < 0.9]
    result.text.append(
        f"Deep dream (figures dream_progress and dream_all_classes): gradient ascent on the target class's "
        f"pre-softmax logit. From noise, p(2) rises from {start[(2, 'noise')]:.3f} to {conf[(2, 'noise')]:.3f} and "
        f"p(9) from {start[(9, 'noise')]:.3f} to {conf[(9, 'noise')]:.3f}. From a real image of the other digit, "
        f"the '9' reaches p(2) = {conf[(2, 'image')]:.3f} (from {start[(2, 'image')]:.4f}) and the '2' reaches "
        f"p(9) = {conf[(9, 'image')]:.3f} (from {start[(9, 'image')]:.4f}). The change panels show how: ink is "
        f"added where the target class expects strokes and removed where the source digit's strokes argue against "
        f"it. " + (f"Much of the original digit survives (the final image correlates with its start at "
                   f"{corr[2]:.2f} and {corr[9]:.2f}), so small, local edits suffice to move the class score. "
                   if min(corr.values()) > 0.5 else
                   f"By the last step the dream has overwritten most of the start (correlation with it only "
                   f"{corr[2]:.2f} and {corr[9]:.2f}); the intermediate snapshots show where the class flips while "
                   f"the original digit is still visible. ")
        + f"The dream images are maps of the model's sensitivity: where ink raises the class score most. Without L2 "
        f"and TV the same noise starts end with {tv_ratio[2]:.1f}x / {tv_ratio[9]:.1f}x the total variation and "
        f"{l2_ratio[2]:.1f}x / {l2_ratio[9]:.1f}x the ink (sum x^2) for 2 / 9, at logit "
        f"{m['dream_logit_2_noise_unregularised']:.1f} / {m['dream_logit_9_noise_unregularised']:.1f} against "
        f"{m['dream_logit_2_noise']:.1f} / {m['dream_logit_9_noise']:.1f} with them: the unregularised ascent buys "
        f"its extra score with more, and more jagged, ink; the regularisers keep the strokes sparse and smooth. "
        f"Across all ten classes the "
        f"mean final confidence is {grid_conf[0].mean():.3f} from noise and {grid_conf[1].mean():.3f} from the same "
        f"'{config.grid_source_digit}'"
        + (f"; from noise, class(es) {', '.join(low)} stay below 0.9, the ones whose evidence the regularisers "
           f"price highest." if low else "."))


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
)

