"""The networks the baselines train (the three classic ones with this run's recipe, Adam, and again with
Report D's, plain SGD) and the memoised t-SNE of each representation, keyed by `tsne_params`."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.baselines.config import MODELS, Config
from mnistlab.tasks.common import classifier_run


def adam_runs(config: Config, seed: int) -> dict[str, SubRun]:
    """Each of MODELS trained with this run's recipe (Adam), its checkpoint kept: its layers are looked at."""
    cfg = config.train_config()
    return {name: classifier_run(spec, cfg, seed=seed, train_limit=config.train_limit, test_limit=config.test_limit,
                                 keep_checkpoint=True, name=name)  # its layers are looked at in the findings
            for name, (spec, _) in MODELS.items()}


def report_d_runs(config: Config, seed: int) -> dict[str, SubRun]:
    """Each of MODELS trained with Report D's recipe (none unless `report_d_recipe`)."""
    if not config.report_d_recipe:
        return {}
    cfg = config.report_d_config()
    return {name: classifier_run(spec, cfg, seed=seed, train_limit=config.train_limit, test_limit=config.test_limit,
                                 name=f"{name}, Report D's recipe")
            for name, (spec, _) in MODELS.items()}


def plan(config: Config, seed: int) -> list[SubRun]:
    return list(adam_runs(config, seed).values()) + list(report_d_runs(config, seed).values())


def tsne_params(config: Config, name: str, features: np.ndarray, seed: int) -> dict[str, Any]:
    """The memo key of the t-SNE of one representation (`name`, its values `features`): the values themselves
    by their digest, and the t-SNE's settings."""
    return {"source": "baselines", "representation": name, "n": len(features), "dims": features.shape[1],
            "perplexity": config.tsne_perplexity, "pca_dims": config.tsne_pca_dims,
            "sha256": hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest(), "seed": seed}
