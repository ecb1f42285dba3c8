"""What Task 3's analysis measures, as numbers: each MLP's trained record, the first MLP's learning curve
and the tested comparisons of size and precision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnistlab.tasks.base import Context
from mnistlab.tasks.sweeps import (
    Curve,
    Verdict,
    curve_summary,
    per_epoch_seconds,
    slug,
    sweep_metrics,
    sweep_rows,
    verdict_of,
)
from mnistlab.tasks.task3.config import Config
from mnistlab.tasks.task3.plan import compares_precision, contrasts, fp32_twin, sweep


@dataclass(frozen=True)
class Findings:
    """What Task 3's analysis measured: numbers only; tables, figures and prose are drawn from it."""

    rows: tuple[dict[str, Any], ...]  # each MLP's trained record + 'name', 'spec', 'depth'; config.models order
    n_train: int                      # training images
    curve: Curve                      # the first (Task 3.1) MLP's learning curve
    size: Verdict                     # the largest MLP against the first (empty when the first is the largest)
    fp32: dict[str, Any] | None = None  # the first MLP trained in fp32 (a sweep row), when it trained in bf16
    precision: Verdict | None = None    # the first MLP in bf16 against fp32, with `fp32`

    @property
    def first(self) -> dict[str, Any]:
        return self.rows[0]

    @property
    def biggest(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: r["params"])

    @property
    def smallest(self) -> dict[str, Any]:
        return min(self.rows, key=lambda r: r["params"])

    @property
    def best(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: r["test_acc"])

    @property
    def deepest(self) -> dict[str, Any]:
        return max(self.rows, key=lambda r: r["depth"])


def compute_findings(config: Config, ctx: Context) -> Findings:
    rows = tuple(sweep_rows(ctx, sweep(config, ctx.seed)))
    fp32 = sweep_rows(ctx, [fp32_twin(config, ctx.seed)])[0] if compares_precision(config) else None
    tested = contrasts(config)
    measured = metrics(rows, fp32)
    biggest = max(range(len(rows)), key=lambda i: rows[i]["params"])
    size = verdict_of(ctx.compare(tested[biggest - 1], measured)) if biggest > 0 else Verdict("", tested=False)
    precision = verdict_of(ctx.compare(tested[-1], measured)) if fp32 is not None else None
    return Findings(rows=rows, n_train=config.train_limit or 60000, curve=curve_summary(rows[0]["history"]),
                    size=size, fp32=fp32, precision=precision)


def metrics(rows: Sequence[dict[str, Any]], fp32: dict[str, Any] | None) -> dict[str, float]:
    """The sweep's metrics; with an fp32 run of the first MLP also its accuracy, time and bf16's speed-up."""
    out = sweep_metrics(list(rows))
    if fp32 is not None:
        key, first = slug(rows[0]["name"]), rows[0]
        out[f"{key}_fp32_test_acc"], out[f"{key}_fp32_train_acc"] = fp32["test_acc"], fp32["train_acc"]
        out[f"{key}_fp32_seconds_per_epoch"] = per_epoch_seconds(fp32)
        out[f"{key}_seconds_per_epoch"] = per_epoch_seconds(first)
        # bf16's speed-up: how many times faster it trained than fp32 (a time, so named as one)
        out["fp32_over_bf16_seconds_per_epoch"] = per_epoch_seconds(fp32) / per_epoch_seconds(first)
    return out
