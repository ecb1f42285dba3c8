"""The permutation extension's discussion, paragraphs by id, written from its findings; it also judges Report C's
two claims about the permutation on our numbers (`REPORT_C_CLAIMS`)."""

from __future__ import annotations

import math

from mnistlab.analysis.claims import ClaimVerdict, PublishedClaim, claims_paragraph
from mnistlab.analysis.contrasts import ONE_RUN
from mnistlab.analysis.stats import p_text
from mnistlab.models import CNN1, parse_cnn
from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.permutation.config import Config
from mnistlab.tasks.permutation.findings import DatasetFindings, Findings, NetFindings


def prose(f: Findings, config: Config) -> dict[str, str]:
    """Paragraphs by id: '<dataset> mlp' and '<dataset> cnn' for each dataset, then 'report-c'. Each network's
    paragraph states its accuracies on original and permuted pixels as its finding; the tests behind them
    (McNemar on this seed's test predictions, one trained network of each kind) and Report C's verdicts, which
    rest on those tests, cannot tell the pixel orders apart (the runner's comparisons across seeds can), so they
    are discussion only."""
    out = {}
    for d in f.datasets:
        out[f"{d.dataset} mlp"] = _mlp_text(d)
        out[f"{d.dataset} cnn"] = _cnn_text(d, config)
    out["report-c"] = claims_paragraph("Beside Report C", REPORT_C_CLAIMS, {d.dataset: d for d in f.datasets},
                                       smoke_test=f.smoke_test)
    return out


def _mlp_text(d: DatasetFindings) -> Paragraph:
    mlp = d.mlp
    detected = d.detected(mlp)
    same = abs(d.rewired - mlp.test_acc) * d.n_test <= 1  # at most one image, which rounding can flip
    return Paragraph(
        f"{d.dataset}: the MLP scored {mlp.test_acc:.2%} on original and {mlp.permuted_test_acc:.2%} on permuted "
        f"pixels ({mlp.change_pp:+.2f} pp; the 95% sampling interval of one such accuracy on {d.n_test:,} test "
        f"images is about +/-{d.noise_pp:.1f} pp).",
        ("As it should be: a permutation of the inputs is a permutation of the first layer's weight columns, so "
         "both data sets offer the MLP the same set of functions. " if not detected else
         "The difference is detectable on this seed (tested below), yet both data sets offer the MLP the same "
         "set of functions: a permutation of the inputs is a permutation of the first layer's weight columns. ")
        + f"This run checks it directly: the MLP trained on original pixels, with its first-layer columns permuted "
        f"the same way, scores {d.rewired:.2%} on the permuted test images against {mlp.test_acc:.2%} before - "
        + ("the same function. " if same else "the same function up to the rounding of a reordered sum. ")
        + "The two trained MLPs differ only because the same initial weights meet the pixels in another order, "
        "which amounts to another random initialisation.")


def _kernel_words(config: Config) -> tuple[str, str]:
    """('4x4', 'each kernel sees 16'): the CNN's kernel sizes in words, and how many pixels a first-layer
    kernel sees."""
    kernels = parse_cnn(config.cnn).kernels
    if len(set(kernels)) == 1:
        return f"{kernels[0]}x{kernels[0]}", f"each kernel sees {kernels[0] ** 2}"
    return " then ".join(f"{k}x{k}" for k in kernels), f"each first-layer kernel sees {kernels[0] ** 2}"


def _cnn_text(d: DatasetFindings, config: Config) -> Paragraph:
    cnn = d.cnn
    name = "CNN-1" if parse_cnn(config.cnn) == CNN1 else cnn.name
    kernel, sees = _kernel_words(config)
    return Paragraph(
        f"{d.dataset}: {name} scored {cnn.test_acc:.2%} on original and {cnn.permuted_test_acc:.2%} on permuted pixels "
        f"({cnn.change_pp:+.2f} pp).",
        f"Tested on this seed's test predictions: {cnn.verdict} (the MLP: {d.mlp.verdict}). Why a CNN should lose: "
        f"its {kernel} kernels look at small neighbourhoods and share weights across positions, an inductive bias "
        f"that is right for images and wrong once neighbouring pixels are unrelated. After the shuffle {sees} "
        "scattered pixels and the same filter is applied to unrelated pixel groups at every position, so the CNN has "
        "less usable structure than an MLP of similar size.")


# ------------------------------------------------------------------- beside Report C's qualitative findings

CHANCE = 0.1  # ten classes in both data sets
# "Well above chance": on permuted pixels the CNN keeps at least this share of its margin over chance on
# original pixels - a loss of less than half the way down to guessing.
WELL_ABOVE_CHANCE_SHARE = 0.5


def _shuffle_words(net: NetFindings) -> str:
    test = f"McNemar, {ONE_RUN}, adjusted {p_text(net.p)}" if not math.isnan(net.p) else "not tested"
    return (f"the {net.family} scored {net.test_acc:.2%} on original and {net.permuted_test_acc:.2%} on permuted "
            f"pixels ({net.change_pp:+.2f} pp, {test})")


def _mlp_unaffected(d: DatasetFindings) -> ClaimVerdict:
    return ClaimVerdict.of(not d.detected(d.mlp), _shuffle_words(d.mlp))


def _cnn_degrades_above_chance(d: DatasetFindings) -> ClaimVerdict:
    cnn = d.cnn
    margin, kept = 100 * (cnn.test_acc - CHANCE), 100 * (cnn.permuted_test_acc - CHANCE)
    well_above = margin > 0 and kept >= WELL_ABOVE_CHANCE_SHARE * margin
    return ClaimVerdict.of(d.detected(cnn) and cnn.change_pp < 0 and well_above,
                           f"{_shuffle_words(cnn)}; its margin over chance ({CHANCE:.0%}) went from {margin:.1f} to "
                           f"{kept:.1f} points, {'at least' if well_above else 'less than'} the "
                           f"{WELL_ABOVE_CHANCE_SHARE:.0%} that 'well above chance' asks")


_OURS = "our {} trained on original and on permuted pixels, McNemar's test on the same test images"
REPORT_C_CLAIMS: tuple[PublishedClaim[DatasetFindings], ...] = (
    PublishedClaim("mlp", "Report C", "MLP unaffected", _OURS.format("MLP"), _mlp_unaffected),
    PublishedClaim("cnn", "Report C", "CNN degrades on both data sets but stays well above chance",
                   _OURS.format("CNN"), _cnn_degrades_above_chance, datasets=("mnist", "fashion-mnist")),
)
