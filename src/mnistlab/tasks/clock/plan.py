"""The readers the clock task trains: one sub-run (kind "clock", `networks.py`) per variant, all on the
same generated data set."""

from __future__ import annotations

from mnistlab.execution.subrun import SubRun
from mnistlab.models import spec_forward_macs
from mnistlab.models.clock import VARIANT_TITLES, ClockLoss
from mnistlab.tasks.clock.config import Config
from mnistlab.tasks.clock.networks import KIND_CLOCK


def plan(config: Config, seed: int) -> list[SubRun]:
    """One sub-run per variant, all on the same generated data set."""
    data, cfg = config.data(seed), config.train_config()
    images = (config.n_images - config.n_test() + config.extra_train_images) * (2 if config.mirror_train else 1)
    return [SubRun(kind=KIND_CLOCK.name, model=config.model_spec(v), data=data, train=cfg, seed=seed,
                   objective=ClockLoss(v, config.smooth720 if v == "classes720" else 0.0),
                   name=f"clock {VARIANT_TITLES[v]}",
                   cost=6.0 * spec_forward_macs(config.model_spec(v), (1, config.image_size, config.image_size))
                   * images * config.epochs)
            for v in config.variants]
