"""The clock task's findings as the report shows them: metrics, the variants table, the figures
(mnistlab.viz.clock), and the published figures that stand beside ours."""

from __future__ import annotations

from typing import Any

import numpy as np

from mnistlab.analysis.published import THEIR_CLOCKS, cite
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.clock.config import CHANCE_MAE, Config
from mnistlab.tasks.clock.findings import Findings, VariantFindings, metrics, summarise
from mnistlab.viz.clock import plot_curves, plot_errors, plot_samples

PUBLISHED = (
    cite("regression with a common-sense loss: mean error, minutes", "19-25", "Report C",
         "regression_mae_minutes", THEIR_CLOCKS, unit="min"),
    cite("24 classes: share of clocks in the right half-hour class", "about 85%", "Report C",
         "classes24_bin_accuracy", f"{THEIR_CLOCKS}; theirs on validation clocks, ours on the test clocks"),
    cite("720 classes", "overfits", "Report C", "classes720_mae_minutes", THEIR_CLOCKS, unit="min"),
    cite("multi-head (hour classes + minute regression): mean error, minutes", "about 5", "Report C",
         "multihead_mae_minutes", THEIR_CLOCKS, unit="min"),
    cite("periodic (sin/cos) labels: mean error, minutes", "about 6", "Report C", "sincos_mae_minutes",
         f"{THEIR_CLOCKS}; theirs: cos labels", unit="min"),
)


def _variant_row(v: VariantFindings, f: Findings) -> list[Any]:
    s = summarise(v.errors)

    def mean(errors: np.ndarray | None) -> Any:
        return "-" if errors is None else round(float(errors.mean()), 2)

    return ([v.title, v.params, round(s["mae_minutes"], 2), round(s["median_minutes"], 2), round(s["within5"], 4),
             round(s["within15"], 4)] + ([mean(v.mirrored)] if f.mirrored else [])
            + ([mean(v.unseen)] if f.unseen else []) + [round(v.seconds_per_epoch, 2)])


def variants_table(f: Findings, config: Config) -> Table:
    """The key table: each variant's errors, its size and its training time per epoch."""
    return Table(
        ["variant", "parameters", "mean error, min", "median error, min", "within 5 min", "within 15 min"]
        + (["mean error with mirror, min"] if f.mirrored else [])
        + (["unseen style, mean error, min"] if f.unseen else []) + ["train s/epoch"],
        [_variant_row(v, f) for v in f.variants.values()],
        f"Five ways to read the clock, one backbone (width {config.width}, pooling {config.pool}), {config.epochs} "
        f"epoch(s) on {f.n_train:,} generated {config.image_size}x{config.image_size} clocks with tick faces"
        + (f" ({config.extra_train_images:,} of them beyond the data set's own training split)"
           if config.extra_train_images else "")
        + (" and their mirror images" if config.mirror_train else "")
        + (f", read at {config.image_size // config.downsample} px" if config.downsample > 1 else "") + "; errors "
        f"on {f.n_test:,} test clocks of the same family"
        + (f" and on {config.unseen_images:,} clocks of an unseen style (numerals, tapered hands, hub cap)"
           if f.unseen else "")
        + " (common-sense error: minutes the short way round the 12-hour dial, at most 360)"
        + ("; 'with mirror': the mean of the readings of each test clock and of its mirror image, mapped back"
           if f.mirrored else "") + ".")


def _figures(f: Findings, config: Config, ctx: Context) -> list[Figure]:
    best, k = f.best, len(f.samples)
    out = [ctx.figure(plot_samples(f.samples, f.true[:k], best.pred[:k],
                                   f"Test clocks read by the best variant: {best.title}"),
                      "samples", f"The first {k} test clocks with their true time and the time that the best variant "
                                 f"({best.title}) read; red when more than 15 minutes off."),
           ctx.figure(plot_errors({v.title: v.errors for v in f.variants.values()}), "errors",
                      "Distribution of the common-sense error per variant on the test clocks.")]
    if config.epochs > 1:
        out.append(ctx.figure(
            plot_curves({v.title: v.history for v in f.variants.values()}, CHANCE_MAE), "curves",
            "Mean error on the test clocks (solid) and on the training clocks while each epoch trained on them "
            "(dashed), and the training loss, after each epoch, per variant."))
    return out


def present(f: Findings, config: Config, ctx: Context) -> Result:
    """The metrics, the variants table and the figures (samples read by the best variant, errors, curves)."""
    return Result(metrics=metrics(f), tables={"variants": variants_table(f, config)}, figures=_figures(f, config, ctx))
