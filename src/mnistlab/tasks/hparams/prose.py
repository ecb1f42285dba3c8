"""The hyperparameter studies' discussion, paragraphs by id, written from their findings: per dataset and family
the reference and what moved test accuracy, early stopping, the two datasets side by side, and Report C's
qualitative findings set against ours (`REPORT_C_CLAIMS`: each claim with the study it maps to and the rule
that judges it on our numbers; mnistlab.analysis.claims)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnistlab.analysis.claims import ClaimVerdict, PublishedClaim, claims_paragraph
from mnistlab.analysis.contrasts import ONE_RUN
from mnistlab.analysis.stats import ALPHA, MANY, p_text
from mnistlab.models import CNNSpec, MLPSpec
from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.hparams.config import CNN_STUDIES, MLP_STUDIES, REFERENCES, Config, Study
from mnistlab.tasks.hparams.findings import FamilyFindings, Findings, StoppingFindings


def prose(f: Findings, config: Config) -> dict[str, str]:
    """Paragraphs by id: one per dataset and family ('<dataset> <family>'), then 'stopping' and 'datasets', then
    'report-c mlp' and 'report-c cnn' for the families that ran. Each family's paragraph states its reference's
    accuracy as its finding (what moved test accuracy rests on this seed's networks, one training run each:
    discussion only; the runner's comparisons across seeds are the findings about it), and 'datasets' the typical
    change on each; 'stopping' (how the runs ended) and Report C's verdicts (on one seed's networks) state none."""
    out = {f"{x.dataset} {x.family}": _family_text(x, f.n_test) for x in f.families}
    out["stopping"] = _stopping_text(f.stopping, config)
    out["datasets"] = _datasets_text(f)
    out |= _report_c_texts(f)
    return {k: v for k, v in out.items() if v}


def _points_text(points: float) -> str:
    """A difference already in percentage points, signed: '+1.25 pp'."""
    return f"{points:+.2f} pp"


def _values(effects: list[tuple[str, str, float]]) -> str:
    return ", ".join(f"{study} '{label}' ({_points_text(delta)})" for study, label, delta in effects)


def _family_text(x: FamilyFindings, n_test: int) -> Paragraph:
    """The reference's accuracy (the finding), then which study moved test accuracy most and which values helped
    or hurt beyond chance on this seed's networks (the detail: one training run each)."""
    ranked = x.ranked
    lead = (f"{x.dataset}, {x.family}: the reference scored {x.ref_acc:.2%} on the test set (best epoch "
            f"{x.ref_best_epoch} of {x.ref_epochs_run}; one accuracy on {n_test:,} test images carries a "
            f"95% sampling interval of about +-{x.noise_pp:.2f} pp).")
    text = (f"Each value is tested against the reference with McNemar's test on the same test images (this seed, "
            f"{ONE_RUN}: seed variation comes on top), and only differences whose p, adjusted over every value of "
            f"the run (Holm; Benjamini-Hochberg from {MANY} values on), is below {ALPHA:g} are read as effects of "
            f"these networks. ")
    if ranked[0] in x.moved:
        top_spread, top_hi, top_lo = x.spreads[ranked[0]]
        text += (f"The variable that mattered most was {ranked[0]}: test accuracy ranged over {top_spread:.2f} "
                 f"pp, from '{top_lo}' to '{top_hi}'")
        runners = [f"{name} ({x.spreads[name][0]:.2f} pp)" for name in ranked[1:3] if name in x.moved]
        text += (f"; next came {' and '.join(runners)}. " if runners else ". ")
    else:
        text += "No value of any study changed test accuracy detectably. "
    if x.hurt:
        text += f"Values that hurt: {_values(x.hurt)}. "
    if x.helped:
        text += f"Values whose network scored detectably above the reference's: {_values(x.helped)}. "
    elif x.hurt:
        text += "No value's network scored detectably above the reference's. "
    quiet = [name for name in ranked if name not in x.moved]
    if quiet and len(quiet) < len(ranked):
        text += f"No detectable change throughout: {', '.join(quiet)}."
    return Paragraph(lead, text.strip())


def _stopping_text(s: StoppingFindings, config: Config) -> str:
    epochs = f"{config.patience} epoch" + ("s" if config.patience != 1 else "")
    text = f"Early stopping: {s.stopped} of the {s.runs} distinct runs stopped after {epochs} without a lower " \
           "validation loss"
    if s.median_best_epoch is not None:
        text += f" (median best epoch {s.median_best_epoch:g})"
    text += f"; {s.capped} reached the cap of {config.max_epochs} epochs"
    if config.max_epochs <= config.patience:
        text += (f" - with a cap of {config.max_epochs} and patience {config.patience} none could stop early, "
                 f"though each still returns the weights of its best epoch")
    elif s.capped:
        text += (f", {s.capped_best_last} of them with their best validation loss in the last epoch, so they might "
                 f"have improved with more epochs")
    return text + "."


def _datasets_text(f: Findings) -> str:
    """The typical change from the reference on each of two datasets (the finding), and whether each family's
    widest study is the same on both."""
    if len(f.typical_pp) < 2:
        return ""
    a, b = f.typical_pp
    bigger, smaller = (a, b) if f.typical_pp[a] >= f.typical_pp[b] else (b, a)
    lead = (f"Across datasets: the median absolute change from the reference was {f.typical_pp[bigger]:.2f} pp on "
            f"{bigger} and {f.typical_pp[smaller]:.2f} pp on {smaller}.")
    text = ""
    for family in REFERENCES:
        tops = [x.widest for d in (a, b) for x in f.families if (x.dataset, x.family) == (d, family)]
        if len(tops) == 2:
            text += (f" For the {family} the study with the widest spread was the same on both ({tops[0]})."
                     if tops[0] == tops[1] else
                     f" For the {family} the study with the widest spread was {tops[0]} on {a} but {tops[1]} on {b}.")
    return Paragraph(lead, text.strip())


# ------------------------------------------------------------------- beside Report C's qualitative findings

Values = dict[str, dict[str, Any]]  # one study on one dataset: value label -> its row (the reference's included)
StudyRows = dict[str, Values]  # one family on one dataset: study name -> its values
Rule = Callable[[Values], ClaimVerdict]


def _reference_label(values: Values) -> str:
    return next(label for label, r in values.items() if r["reference"])


def _half_pp(r: dict[str, Any]) -> float:
    """Half-width, in pp, of the 95% interval of this value's difference from the reference (0 for the reference)."""
    if r["reference"]:
        return 0.0
    return 100 * r["comparison"].half_width if r.get("comparison") is not None else math.nan


@dataclass(frozen=True)
class Gap:
    """Test accuracy of value a minus that of value b of one study, in pp, with its 95% interval. Against the
    reference it is the McNemar test of `_rows` (p); between two other values, whose difference no test
    compared, the interval combines their two intervals against the reference (p is nan): the shared
    reference correlates them positively, so this overstates the width and understates a detection."""

    a: str
    b: str
    acc_a: float
    acc_b: float
    half_pp: float
    p: float

    @property
    def diff_pp(self) -> float:
        return 100 * (self.acc_a - self.acc_b)

    @property
    def detected(self) -> bool:
        return self.p < ALPHA if not math.isnan(self.p) else abs(self.diff_pp) > self.half_pp

    def beyond(self, threshold_pp: float) -> bool:
        """Whether the difference is larger than `threshold_pp` by more than its interval."""
        return abs(self.diff_pp) - self.half_pp > threshold_pp

    def __str__(self) -> str:
        how = (f"McNemar, adjusted {p_text(self.p)}" if not math.isnan(self.p) else
               "not tested" if math.isnan(self.half_pp) else "interval from both values' tests against the reference")
        half = "" if math.isnan(self.half_pp) else f" +- {self.half_pp:.2f}"
        return f"'{self.a}' {self.acc_a:.2%} vs '{self.b}' {self.acc_b:.2%}: {self.diff_pp:+.2f}{half} pp ({how})"


def _gap(values: Values, a: str, b: str) -> Gap:
    ra, rb = values[a], values[b]
    tested = rb if ra["reference"] else ra  # the one with a test against the reference, if either has one
    p = tested.get("p", math.nan) if ra["reference"] or rb["reference"] else math.nan
    return Gap(a, b, ra["test_acc"], rb["test_acc"], math.hypot(_half_pp(ra), _half_pp(rb)), p)


def _against_reference(values: Values) -> list[Gap]:
    ref = _reference_label(values)
    return [_gap(values, label, ref) for label in values if label != ref]


@dataclass(frozen=True)
class Speedup:
    """Epochs two runs took to the lowest validation loss both reach (the higher of their two minima)."""

    fast: str
    slow: str
    target: float
    fast_epochs: int
    slow_epochs: int

    @property
    def factor(self) -> float:
        return self.slow_epochs / self.fast_epochs

    def __str__(self) -> str:
        return (f"to the validation loss both reach ({self.target:.4f}) '{self.fast}' took {self.fast_epochs} and "
                f"'{self.slow}' {self.slow_epochs} epochs ({self.factor:.1f}x)")


def _speedup(values: Values, fast: str, slow: str) -> Speedup:
    losses = {label: [h["val_loss"] for h in values[label]["history"]] for label in (fast, slow)}
    target = max(min(curve) for curve in losses.values())
    first = {label: next(i for i, loss in enumerate(curve, 1) if loss <= target) for label, curve in losses.items()}
    return Speedup(fast, slow, target, first[fast], first[slow])


def _detectably_worse(label: str) -> Rule:
    """The claim that `label` fails: it holds when `label` scores detectably below the reference."""
    def rule(values: Values) -> ClaimVerdict:
        gap = _gap(values, label, _reference_label(values))
        return ClaimVerdict.of(gap.detected and gap.diff_pp < 0, str(gap))
    return rule


def _alike(values: Values) -> ClaimVerdict:
    """The claim that the study's values are alike: no value differs detectably from the reference."""
    gaps = _against_reference(values)
    return ClaimVerdict.of(not any(g.detected for g in gaps), "; ".join(map(str, gaps)))


def _within(threshold_pp: float, base: str | None = None) -> Rule:
    """The claim that every value is within `threshold_pp` of `base` (the reference when None): it fails only
    where a difference exceeds the threshold by more than its interval."""
    def rule(values: Values) -> ClaimVerdict:
        anchor = base or _reference_label(values)
        gaps = [_gap(values, label, anchor) for label in values if label != anchor]
        beyond = [f"'{g.a}'" for g in gaps if g.beyond(threshold_pp)]
        return ClaimVerdict.of(not beyond, "; ".join(map(str, gaps)) + f"; more than {threshold_pp:g} pp from "
                               f"'{anchor}' beyond its interval: {', '.join(beyond) or 'none'}")
    return rule


def _faster(fast: tuple[str, ...], slow: str, factor: float) -> Rule:
    """The claim that each of `fast` converges `factor` times faster than `slow`, in epochs to a common loss."""
    def rule(values: Values) -> ClaimVerdict:
        speedups = [_speedup(values, label, slow) for label in fast]
        return ClaimVerdict.of(all(s.factor >= factor for s in speedups), "; ".join(map(str, speedups)))
    return rule


def _falls_as_batch_grows(values: Values) -> ClaimVerdict:
    """The claim that accuracy falls as the batch grows: the smallest batch detectably beats the largest, and no
    larger batch detectably beats the next smaller one."""
    by_size = sorted(values, key=lambda label: values[label]["recipe"].batch_size)
    steps = [_gap(values, big, small) for small, big in itertools.pairwise(by_size)]
    ends = _gap(values, by_size[-1], by_size[0])
    holds = ends.detected and ends.diff_pp < 0 and not any(g.detected and g.diff_pp > 0 for g in steps)
    return ClaimVerdict.of(holds, "; ".join(map(str, [*steps, ends])))


def _larger_kernels_faster_but_lower(values: Values) -> ClaimVerdict:
    """The claim that larger kernels converge faster but end lower: the largest against the smallest kernel
    reaches their common validation loss in fewer epochs and scores detectably lower on the test set."""
    by_size = sorted(values, key=lambda label: values[label]["recipe"].spec.kernels[0])
    speed, end = _speedup(values, by_size[-1], by_size[0]), _gap(values, by_size[-1], by_size[0])
    return ClaimVerdict.of(speed.factor > 1 and end.detected and end.diff_pp < 0, f"{speed}; {end}")


def _not_studied(values: Values) -> ClaimVerdict:
    """A claim about values we did not try: not compared; what our study found instead is the evidence."""
    return ClaimVerdict("not compared", "our values instead: " + "; ".join(map(str, _against_reference(values))))


def _study_words(study: Study) -> str:
    values = ", ".join(f"'{label}'" + (" (reference)" if label == study.reference else "") for label in study.values)
    return f"our {study.family} {study.name} study ({values})"


def _report_c(study: Study, claim: str, rule: Rule, not_here: str = "",
              datasets: tuple[str, ...] | None = None) -> PublishedClaim[StudyRows]:
    """Report C's `claim`, judged by `rule` on our `study` where this run made it."""
    def judge(rows: StudyRows) -> ClaimVerdict:
        if study.name not in rows:
            return ClaimVerdict("not compared", f"our {study.name} study was not part of this run")
        return rule(rows[study.name])
    return PublishedClaim(f"{study.family.lower()}-{study.name}", "Report C", claim, _study_words(study), judge,
                          datasets, not_here)


# "About 3x faster" is read as at least twice as many epochs for SGD: epochs are whole numbers, so a ratio
# near 3 is only resolved to about one epoch in the few an adaptive optimiser needs.
_ABOUT_3X = 2.0
_MS, _CS = MLP_STUDIES, CNN_STUDIES
REPORT_C_CLAIMS: dict[str, tuple[PublishedClaim[StudyRows], ...]] = {
    MLPSpec.family: (
        _report_c(_MS["init"], "zero or constant weight initialisation fails", _detectably_worse("zeros"),
                  "a constant non-zero initialisation"),
        _report_c(_MS["dropout"], "dropout 0.9 underfits, 0-0.5 alike", _alike, "dropout 0.9"),
        _report_c(_MS["optimizer"], "RMSprop/Adam/Nadam converge about 3x faster than SGD",
                  _faster(("adam 1e-3", "rmsprop 1e-3"), "sgd 0.01", _ABOUT_3X), "Nadam"),
        _report_c(_MS["loss"], "Poisson loss worst", _not_studied, "a Poisson loss"),
        _report_c(_MS["batch_size"], "accuracy falls as batch size grows (32 best of 32-1000)", _falls_as_batch_grows),
        _report_c(_MS["depth"], "a depth of 100 layers of width 10 fails to learn", _not_studied,
                  "100 layers of width 10"),
    ),
    CNNSpec.family: (
        _report_c(_CS["kernel"], "larger kernels converge faster but end lower", _larger_kernels_faster_but_lower),
        _report_c(_CS["stride"], "stride 8 about 5 points below stride 1 on Fashion-MNIST", _not_studied,
                  "stride 8", datasets=("fashion-mnist",)),
        _report_c(_CS["pooling"], "pooling changes accuracy by about 0.4 points or less", _within(0.4)),
        _report_c(_CS["padding"], "padding changes accuracy by about 0.4 points or less", _within(0.4)),
        _report_c(_CS["depth"], "one conv + pool layer within 0.2 points of deeper nets", _within(0.2, base="1")),
    ),
}


def _study_rows(f: Findings, family: str) -> dict[str, StudyRows]:
    """dataset -> study -> value label -> row, for the family's studies this run made."""
    out: dict[str, StudyRows] = {}
    for r in f.rows:
        if r["family"] == family:
            out.setdefault(r["dataset"], {}).setdefault(r["study"].name, {})[r["label"]] = r
    return out


def _report_c_texts(f: Findings) -> dict[str, str]:
    """'report-c mlp' and 'report-c cnn': Report C's claims on the family judged on each dataset it ran on."""
    return {f"report-c {family.lower()}": claims_paragraph(f"Beside Report C, {family}", claims, rows,
                                                           smoke_test=f.smoke_test)
            for family, claims in REPORT_C_CLAIMS.items() if (rows := _study_rows(f, family))}

