"""Task 5's findings as the report shows them: metrics, the tables of filters, feature maps and dreams, and
the figures (drawn by mnistlab.viz.cnn_inside; the helpers here caption them)."""

from __future__ import annotations

from mnistlab.analysis.published import Published
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.task5.config import DIGITS, Config
from mnistlab.tasks.task5.findings import Findings, metrics
from mnistlab.viz import cnn_inside

# No published solution reports a number for Task 5 (the report says so).
PUBLISHED: tuple[Published, ...] = ()


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Metrics, the tables, and the figures: filters, feature maps and dreams."""
    figures = (_filter_figures(findings, config, ctx) + _map_figures(findings, config, ctx)
               + _dream_figures(findings, config, ctx))
    return Result(metrics=metrics(findings), tables=_tables(findings, config), figures=figures)


def _tables(f: Findings, config: Config) -> dict[str, Table]:
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
