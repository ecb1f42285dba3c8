"""What Task 4's analysis measures, as numbers: each CNN's and MLP's trained record with its arithmetic per
image, the first CNN's and first MLP's learning curves, and the tested comparison of the first CNN with the
first MLP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from torch import nn

from mnistlab.models import CNN1, forward_macs, parse_spec
from mnistlab.tasks.base import Context
from mnistlab.tasks.common import MLP_SWEEP
from mnistlab.tasks.sweeps import Curve, Verdict, curve_summary, sweep_metrics, sweep_rows, verdict_of
from mnistlab.tasks.task4.config import Config
from mnistlab.tasks.task4.plan import contrasts, sweeps


@dataclass(frozen=True)
class Findings:
    """What Task 4's analysis measured: numbers only; tables, figures and prose are drawn from it."""

    cnns: tuple[dict[str, Any], ...]  # each CNN's record + 'name', 'spec', 'depth', 'mflops', 'head_share'
    mlps: tuple[dict[str, Any], ...]  # the same for the MLPs set beside them
    n_train: int                      # training images
    curve: Curve                      # the first CNN's learning curve
    mlp_curve: Curve                  # the first MLP's
    first_is_cnn1: bool               # the first CNN is the brief's CNN-1
    mlp_is_brief: bool                # the first MLP is the brief's MLP 1000-1000
    cnn_vs_mlp: Verdict               # the first CNN against the first MLP, from ctx.compare

    @property
    def first(self) -> dict[str, Any]:
        return self.cnns[0]

    @property
    def mlp(self) -> dict[str, Any]:
        return self.mlps[0]

    @property
    def loosely_linked(self) -> bool:
        """Ordered by parameter count, the CNNs' test accuracies do not rise monotonically."""
        accs = [r["test_acc"] for r in sorted(self.cnns, key=lambda r: r["params"])]
        return any(b < a for a, b in pairwise(accs))


def with_costs(row: dict[str, Any]) -> dict[str, Any]:
    """A sweep row plus its forward MFLOP per image and the share of its parameters in the last dense layer."""
    model = row["spec"].build()
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    head_params = sum(p.numel() for p in head.parameters())
    return {**row, "mflops": 2 * forward_macs(model) / 1e6, "head_share": head_params / row["params"]}


def compute_findings(config: Config, ctx: Context) -> Findings:
    cnn_runs, mlp_runs = sweeps(config, ctx.seed)
    cnns = tuple(with_costs(r) for r in sweep_rows(ctx, cnn_runs))
    mlps = tuple(with_costs(r) for r in sweep_rows(ctx, mlp_runs))
    outcome = ctx.compare(contrasts(config)[-1], metrics(cnns, mlps))
    return Findings(cnns=cnns, mlps=mlps, n_train=config.train_limit or 60000,
                    curve=curve_summary(cnns[0]["history"]), mlp_curve=curve_summary(mlps[0]["history"]),
                    first_is_cnn1=cnns[0]["spec"] == CNN1,
                    mlp_is_brief=mlps[0]["spec"] == parse_spec(MLP_SWEEP[0], "MLP"),
                    cnn_vs_mlp=verdict_of(outcome))


def metrics(cnns: Sequence[dict[str, Any]], mlps: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The CNN sweep's metrics, whether its first CNN is CNN-1, and the first MLP's test accuracy."""
    out = sweep_metrics(list(cnns))
    out["first_is_cnn1"] = float(cnns[0]["spec"] == CNN1)
    out["mlp_first_test_acc"] = mlps[0]["test_acc"]
    return out
