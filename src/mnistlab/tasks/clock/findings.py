"""What the clock task's analysis measures, as numbers: each trained reader's record and the common-sense
errors of its readings (test clocks, mirrored, unseen face family), the generator's draws of the test clocks,
where the best reader's large errors are, and the flat metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnistlab.data.clocks import clock_parameters, common_sense_error
from mnistlab.models.clock import VARIANT_TITLES
from mnistlab.tasks.base import Context
from mnistlab.tasks.clock.config import CHANCE_MAE, Config
from mnistlab.tasks.clock.plan import plan


@dataclass(frozen=True)
class VariantFindings:
    """One trained reader: its record's numbers and the common-sense errors of its readings, in minutes."""

    variant: str
    params: int
    history: list[dict[str, float]]  # per epoch: train_loss, train_mae, test_mae, seconds, ...
    train_seconds: float
    data_seconds: float  # generating (or reading back) its data set
    val_mae: float | None  # mean error on the validation clocks; None without them
    pred: np.ndarray  # its readings of the test clocks, minutes since 12
    errors: np.ndarray  # their errors
    mirrored: np.ndarray | None = None  # errors of the readings averaged with the mirror image's
    unseen: np.ndarray | None = None  # errors on the clocks of the unseen face family

    @property
    def title(self) -> str:
        return VARIANT_TITLES[self.variant]

    @property
    def mae(self) -> float:
        return float(self.errors.mean())

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / max(len(self.history), 1)


@dataclass(frozen=True)
class Findings:
    """The numbers the clock task's metrics, tables, figures and prose are made of (no training, no drawing)."""

    variants: dict[str, VariantFindings]  # in the config's order
    true: np.ndarray  # true minutes of the test clocks
    n_train: int  # training clocks, before any mirror images
    samples: np.ndarray  # the first test clocks' images, for the sample figure
    rotation: np.ndarray  # how far each test clock is turned, degrees either way (the generator's draws)
    ticks: np.ndarray  # each test clock's tick count (0: a face without ticks)
    max_rotation_deg: float

    @property
    def n_test(self) -> int:
        return len(self.true)

    @property
    def chosen_on_validation(self) -> bool:
        """Whether validation clocks chose the best variant; without them the test error chose."""
        return all(v.val_mae is not None for v in self.variants.values())

    @property
    def ranked(self) -> list[VariantFindings]:
        """Best first: by validation error (the test split chooses nothing), else by test error."""
        on_validation = self.chosen_on_validation
        return sorted(self.variants.values(), key=lambda v: v.val_mae if on_validation else v.mae)

    @property
    def best(self) -> VariantFindings:
        return self.ranked[0]

    @property
    def mirrored(self) -> bool:
        return any(v.mirrored is not None for v in self.variants.values())

    @property
    def unseen(self) -> bool:
        return any(v.unseen is not None for v in self.variants.values())


def _errors_of(arrays: dict[str, np.ndarray], pred: str, true: np.ndarray) -> np.ndarray | None:
    if pred not in arrays:
        return None
    return np.asarray(common_sense_error(arrays[pred].astype(float), true), dtype=float)


def _variant(rec: dict[str, Any], arrays: dict[str, np.ndarray], true: np.ndarray) -> VariantFindings:
    unseen_true = arrays["unseen_true_minutes"].astype(int) if "unseen_true_minutes" in arrays else None
    pred = arrays["pred_minutes"].astype(float)
    return VariantFindings(rec["variant"], rec["params"], rec["history"], rec["train_seconds"],
                           float(rec.get("data_seconds", 0.0)), rec.get("val_mae"), pred,
                           np.asarray(common_sense_error(pred, true), dtype=float),
                           _errors_of(arrays, "mirror_pred_minutes", true),
                           None if unseen_true is None else _errors_of(arrays, "unseen_pred_minutes", unseen_true))


def compute_findings(config: Config, ctx: Context) -> Findings:
    """Read every trained reader of the plan (`ctx.trained`) and the generator's draws of the test clocks."""
    n_train = config.n_images - config.n_test()
    variants = {}
    for run in plan(config, ctx.seed):
        trained = ctx.trained(run)
        true = trained.arrays["true_minutes"].astype(int)
        variants[run.model.variant] = _variant(trained.record, trained.arrays, true)
    k = min(config.samples, config.n_test())
    images, _ = config.data(ctx.seed).load()  # the local data cache: read back, not generated again
    params = clock_parameters(config.n_images, config.image_size, ctx.seed, config.style())
    return Findings(variants, true, n_train + config.extra_train_images, images[n_train:n_train + k],
                    np.abs(np.degrees(params["rotation"][n_train:])), params["ticks"][n_train:],
                    config.max_rotation_deg)


@dataclass(frozen=True)
class LargeErrors:
    """Where the best reader's errors of more than 15 minutes are, by the clocks' rotation and ticks."""

    share: float  # of the test clocks
    bands: list[tuple[float, float, float]]  # (lowest, highest rotation in degrees, share over 15) per third
    no_ticks: float  # share over 15 among faces without ticks (nan: no such face)
    ticks: float  # among faces with ticks
    hour_off: float  # of the large errors, the share 45-75 minutes off


def large_errors(f: Findings) -> LargeErrors:
    errors, limit = f.best.errors, f.max_rotation_deg
    big = errors > 15

    def share_over(inside: np.ndarray) -> float:
        return float(big[inside].mean()) if inside.any() else math.nan

    bands = [(lo, hi, share_over((f.rotation >= lo) & (f.rotation < hi)))
             for lo, hi in ((0.0, limit / 3), (limit / 3, 2 * limit / 3), (2 * limit / 3, limit + 1e-9))]
    hour_off = float(((errors[big] >= 45) & (errors[big] <= 75)).mean()) if big.any() else 0.0
    return LargeErrors(float(big.mean()), bands, share_over(f.ticks == 0), share_over(f.ticks > 0), hour_off)


def summarise(errors: np.ndarray) -> dict[str, float]:
    return {"mae_minutes": float(errors.mean()), "median_minutes": float(np.median(errors)),
            "within5": float((errors <= 5).mean()), "within15": float((errors <= 15).mean())}


def classes24_bin_accuracy(f: Findings) -> float:
    """The share of test clocks that the 24-class reader put in the right half hour."""
    return float((f.variants["classes24"].pred // 30 == f.true // 30).mean())


def metrics(f: Findings) -> dict[str, float]:
    m: dict[str, float] = {}
    for v in f.variants.values():
        extra = {"unseen_mae_minutes": float(v.unseen.mean())} if v.unseen is not None else {}
        if v.mirrored is not None:
            extra["mirror_mae_minutes"] = float(v.mirrored.mean())
        for name, value in {**summarise(v.errors), **extra, "params": v.params,
                            "train_seconds_per_epoch": v.seconds_per_epoch}.items():
            m[f"{v.variant}_{name}"] = value
    best = f.best
    m["best_chosen_on_validation"] = float(f.chosen_on_validation)
    m.update({"best_mae_minutes": best.mae, "chance_mae_minutes": CHANCE_MAE, "n_train": f.n_train,
              "n_test": f.n_test, "generation_seconds": max(v.data_seconds for v in f.variants.values())})
    if best.unseen is not None:
        m["best_unseen_mae_minutes"] = float(best.unseen.mean())
    if "classes24" in f.variants:
        m["classes24_bin_accuracy"] = classes24_bin_accuracy(f)
    large = large_errors(f)
    for i, (_, _, share) in enumerate(large.bands):
        m[f"best_share_over15_rotation_band{i + 1}"] = share
    m["best_share_over15_no_ticks"], m["best_share_over15_ticks"] = large.no_ticks, large.ticks
    m["best_share_of_large_errors_an_hour_off"] = large.hour_off
    return m
