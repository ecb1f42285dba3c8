"""What the hyperparameter studies measured, as numbers: every value's trained record and its change from its
study's reference (with McNemar's p against it, adjusted over the run's values), per dataset and family the
studies that moved test accuracy, and how early stopping ended the runs."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from mnistlab.analysis.stats import ALPHA
from mnistlab.tasks.base import Context
from mnistlab.tasks.hparams.config import REFERENCES, Config
from mnistlab.tasks.hparams.plan import contrasts, metric_slug, study_runs


@dataclass(frozen=True)
class FamilyFindings:
    """One model family on one dataset: its reference, how far each study moved test accuracy, and which
    values differed from the reference beyond chance (McNemar's test on the same test images, p < ALPHA)."""

    dataset: str
    family: str
    ref_acc: float
    ref_best_epoch: int
    ref_epochs_run: int
    noise_pp: float  # half-width of the 95% sampling interval of the reference's accuracy
    spreads: dict[str, tuple[float, str, str]]  # study -> (max - min test accuracy in pp, best value, worst value)
    moved: frozenset[str]  # studies with at least one value that differed detectably
    hurt: list[tuple[str, str, float]]  # (study, value, change in pp) detectably worse, worst first
    helped: list[tuple[str, str, float]]  # ... for the better, best first

    @property
    def ranked(self) -> list[str]:
        """The studies by spread, widest first, those that moved test accuracy detectably before the rest."""
        by_spread = sorted(self.spreads, key=lambda name: -self.spreads[name][0])
        return [n for n in by_spread if n in self.moved] + [n for n in by_spread if n not in self.moved]

    @property
    def widest(self) -> str:
        """The study with the widest spread, detected or not."""
        return max(self.spreads, key=lambda name: self.spreads[name][0])


@dataclass(frozen=True)
class StoppingFindings:
    """Early stopping over the distinct runs (a reference shared by several studies counts once)."""

    runs: int
    stopped: int
    median_best_epoch: float | None  # of the runs that stopped early
    capped: int  # runs that reached max_epochs
    capped_best_last: int  # of those, how many had their best validation loss in the last epoch


@dataclass(frozen=True)
class Findings:
    rows: list[dict[str, Any]]  # one per dataset, study and value: the run's record, delta_pp and (not reference) p
    n_test: int
    seed: int
    families: list[FamilyFindings]  # per dataset and family, in config order
    stopping: StoppingFindings
    typical_pp: dict[str, float]  # median |change from the reference| per dataset (the first two, when two ran)
    smoke_test: bool = False  # the quick profile: its numbers test the machinery and state no findings

    @property
    def noise_pp(self) -> float:
        """The widest 95% sampling interval of any reference accuracy (the effects figure's grey band)."""
        return reference_noise_pp(self.rows, self.n_test)


def accuracy_noise_pp(acc: float, n: int) -> float:
    """Half-width, in pp, of the 95% sampling interval of one accuracy measured on n test images."""
    return 100 * 1.96 * math.sqrt(max(acc * (1 - acc), 1e-12) / n)


def reference_noise_pp(rows: list[dict[str, Any]], n_test: int) -> float:
    """The widest 95% sampling interval, in pp, of the reference accuracies among `rows`."""
    return max(accuracy_noise_pp(r["test_acc"], n_test) for r in rows if r["reference"])


def _label(r: dict[str, Any], value: str) -> str:
    return f"{r['dataset']} {r['family']} {r['study'].name}={value}"


def _rows(config: Config, ctx: Context) -> list[dict[str, Any]]:
    """Every (dataset, study, value) with its run's record, its change from the reference and, for a
    non-reference value, McNemar's p against the reference on this seed's test predictions."""
    rows = [{"dataset": dataset, "study": study, "label": label, "family": study.family, "recipe": run.model,
             "reference": label == study.reference, **ctx.trained(run).record}
            for dataset, study, label, run in study_runs(config, ctx.seed)]
    for r in rows:
        ref = next(x for x in rows if x["dataset"] == r["dataset"] and x["study"] is r["study"] and x["reference"])
        r["delta_pp"] = 100 * (r["test_acc"] - ref["test_acc"])
    # Which values differ from their reference beyond chance: McNemar's test on the two networks' test-set
    # predictions (this seed); across several seeds the runner adds paired t-tests.
    accs = {metric_slug(r["dataset"], r["family"], r["study"].name, r["label"]) + "_test_acc": r["test_acc"]
            for r in rows}
    # All values of all studies form one family: their p-values are adjusted together (Benjamini-Hochberg for a
    # family this large, mnistlab.analysis.stats.adjust), so a run of dozens of values does not "find" effects
    # from noise.
    family = contrasts(config)
    tested = {(c.a.label, c.b.label): o for c, o in zip(family, ctx.compare_family(family, accs), strict=True)}
    for r in rows:
        if not r["reference"]:
            outcome = tested[(_label(r, r["label"]), _label(r, r["study"].reference))]
            r["comparison"] = outcome.comparison  # value - reference, its interval and p; None when untested
            r["p"] = outcome.p_adjusted if outcome.comparison is not None else math.nan
    return rows


def _family(rows: list[dict[str, Any]], dataset: str, family: str, n_test: int) -> FamilyFindings | None:
    fam = [r for r in rows if r["dataset"] == dataset and r["family"] == family]
    if not fam:
        return None
    ref = next(r for r in fam if r["reference"])
    spreads = {}
    for s in dict.fromkeys(r["study"] for r in fam):
        accs = {r["label"]: r["test_acc"] for r in fam if r["study"] is s}
        spreads[s.name] = (100 * (max(accs.values()) - min(accs.values())), max(accs, key=accs.get),
                           min(accs, key=accs.get))
    # An effect is a difference McNemar's test finds on the same test images (adjusted p < ALPHA).
    detected = [r for r in fam if not r["reference"] and r.get("p", math.nan) < ALPHA]
    hurt = sorted((r for r in detected if r["delta_pp"] < 0), key=lambda r: r["delta_pp"])
    helped = sorted((r for r in detected if r["delta_pp"] > 0), key=lambda r: -r["delta_pp"])
    return FamilyFindings(dataset, family, ref["test_acc"], ref["best_epoch"], ref["epochs_run"],
                          accuracy_noise_pp(ref["test_acc"], n_test), spreads,
                          frozenset(r["study"].name for r in detected),
                          [(r["study"].name, r["label"], r["delta_pp"]) for r in hurt],
                          [(r["study"].name, r["label"], r["delta_pp"]) for r in helped])


def _stopping(rows: list[dict[str, Any]]) -> StoppingFindings:
    runs = list({(r["dataset"], r["recipe"]): r for r in rows}.values())  # a shared reference is one run
    stopped = [r for r in runs if r["stopped_early"]]
    capped = [r for r in runs if not r["stopped_early"]]
    return StoppingFindings(len(runs), len(stopped),
                            statistics.median(r["best_epoch"] for r in stopped) if stopped else None,
                            len(capped), sum(r["best_epoch"] == r["epochs_run"] for r in capped))


def compute_findings(config: Config, ctx: Context) -> Findings:
    rows = _rows(config, ctx)
    n_test = config.test_limit or 10_000
    families = [f for d in config.datasets for fam in REFERENCES if (f := _family(rows, d, fam, n_test))]
    # the median, so that one broken value (zero init) does not stand for the typical change
    typical = ({d: statistics.median(abs(r["delta_pp"]) for r in rows if r["dataset"] == d and not r["reference"])
                for d in config.datasets[:2]} if len(config.datasets) > 1 else {})
    return Findings(rows, n_test, ctx.seed, families, _stopping(rows), typical, smoke_test=ctx.profile == "quick")


def metrics(f: Findings, config: Config) -> dict[str, float]:
    """Every value's test accuracy, each family's reference's, and each study's spread (max - min, pp)."""
    m = {metric_slug(r["dataset"], r["family"], r["study"].name, r["label"]) + "_test_acc": r["test_acc"]
         for r in f.rows}
    for dataset in config.datasets:
        fams = {x.family: x for x in f.families if x.dataset == dataset}
        for family in fams:
            m[metric_slug(dataset, family, "reference") + "_test_acc"] = fams[family].ref_acc
        for study in config.studies():
            m[metric_slug(dataset, study.family, study.name) + "_spread_pp"] = fams[study.family].spreads[study.name][0]
    return m
