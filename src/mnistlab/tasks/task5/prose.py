"""Task 5's discussion, paragraphs by id: the brief's questions answered from the findings."""

from __future__ import annotations

from itertools import pairwise

from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.task5.config import DIGITS, Config
from mnistlab.tasks.task5.findings import DreamRow, Findings, Network


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'network' (which CNN-1 and how it was obtained: setup, no finding), then
    'filters', 'feature_maps' and 'dreams', each led by what it found."""
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


def _filters_text(f: Findings, config: Config) -> Paragraph:
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
        lead = (f"Filters: training made conv1's kernels smooth: adjacent weights now correlate at "
                f"{conv1.smoothness:.2f} against {conv1.smoothness_init:.2f} for the same kernels at "
                f"initialisation, so they have become {what}.")
        why = (f"Digits are strokes of a few orientations on a black background; light-to-dark transitions at each "
               f"orientation are what a {k}x{k} first layer can and needs to detect.")
    else:
        lead = (f"Filters: conv1's kernels are still close to their random initialisation (neighbour correlation "
                f"{conv1.smoothness:.2f} vs {conv1.smoothness_init:.2f} at initialisation).")
        why = "This short training moved them little, so read the stroke-like structure with care."
    spread = ("their weight is spread over many input channels" if all(x.strongest_share < 0.5 for x in deeper)
              else "their weight is not spread evenly over the input channels")
    full_text = (f"; and the full grid of conv{deeper[0].layer}'s {full[0]} x {full[1]} kernels" if deeper else "")
    return Paragraph(lead, (
        f"{why} The figures filters_conv* show all {conv1.weight.shape[0]} conv1 kernels; for deeper layers one "
        f"{k}x{k} kernel per output filter, {summary}{full_text}. One symmetric colour scale per layer, centred on 0 "
        f"(white), red positive, blue negative. Neighbour correlation per layer: {smooth}. "
        f"Deeper kernels combine feature maps, not pixels, and {spread} (share of a filter's energy in its "
        f"strongest channel: {share}), so a single slice shows only part of each filter"
        + (f"; that is why conv{deeper[0].layer} is also shown in full." if deeper else ".")))


def _maps_text(f: Findings, config: Config) -> Paragraph:
    maps, index = f.maps, f.probe.index
    cos = [m.cosine for m in maps]
    numbers = "; ".join(f"conv{m.layer}: {m.zero[0]:.0%} / {m.zero[1]:.0%} of units zero, cosine similarity of the "
                        f"two images' maps {m.cosine:.2f}" for m in maps)
    if all(a > b for a, b in pairwise(cos)):
        trend = "decreases with depth"
        why = ("Early layers respond to the strokes both digits share, later layers to class-specific combinations "
               "that the final dense layer separates.")
    else:
        trend = "does not fall steadily with depth in this run"
        why = "The layers' class specificity is therefore not visible in this one pair of images."
    sparser = ("the activations get sparser with depth"
               if all(all(a.zero[j] < b.zero[j] for a, b in pairwise(maps)) for j in range(len(DIGITS)))
               else "sparsity does not grow monotonically with depth")
    size = [f"{m.maps.shape[2]}x{m.maps.shape[3]}" for m in maps]
    cosines = ", ".join(f"conv{m.layer} {m.cosine:.2f}" for m in maps)
    return Paragraph(
        f"Feature maps: the similarity of the two digits' maps {trend} (cosine {cosines}); {sparser}.",
        f"{why} The figures feature_maps_conv* show test images #{index[2]} ('2') and #{index[9]} ('9'), the "
        f"{_ordinal(config.image_rank)} test image of each class; every channel of each conv layer after its ReLU, "
        f"one colour scale per layer shared by both images. conv1 ({size[0]}, stride 1) keeps the digit's shape: "
        f"each channel is a filtered copy of it that brings out the stroke, or edges on one side of it; the "
        f"stride-2 layers conv2 ({size[1]}) and conv3 ({size[2]}) keep coarser maps of where a feature occurs. "
        f"Measured ('2' / '9'): {numbers}.")


def _dreams_text(f: Findings, config: Config) -> Paragraph:
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
    return Paragraph(
        f"Deep dream: from noise, {noise}; from a real image of the other digit, the '9' reaches "
        f"p(2) = {images[0].confidence[-1]:.3f} (from {images[0].confidence[0]:.4f}) and the '2' reaches "
        f"p(9) = {images[1].confidence[-1]:.3f} (from {images[1].confidence[0]:.4f}).",
        "The figures dream_progress and dream_all_classes show gradient ascent on the target class's pre-softmax "
        "logit. The change panels show how: ink is added where the target class expects strokes"
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
