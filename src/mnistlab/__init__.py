"""mnistlab: a reproducible deep-learning lab on MNIST-family data.

The public API, imported on first use so that `import mnistlab` stays light (no torch until needed):

- `mnistlab.load(name, split, ...)`: a data set split as tensors (mnistlab.data.load).
- `mnistlab.fit(model, train, test, cfg)` and `mnistlab.TrainConfig`: the training engine (mnistlab.train).
- `mnistlab.run(tasks, profile=..., out=..., seeds=...)`: what `mnistlab run` does; returns the results.
- `mnistlab.plan(tasks, profile=..., seeds=...)`: what `mnistlab plan` prints, as a `Plan`.
- `mnistlab.read_results(out)`: {task: its result.json as a dict}.
- `mnistlab.status(out)`: which results are up to date, stale or custom.

    >>> import mnistlab, torch
    >>> x, y = mnistlab.load("mnist", "train", view="flat", limit=500)
    >>> model = torch.nn.Sequential(torch.nn.Linear(784, 10))
    >>> result = mnistlab.fit(model, (x, y), cfg=mnistlab.TrainConfig(epochs=3, lr=1e-2))
    >>> result.final()["train_acc"] > 0.5
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute); None: the module itself.
_API: dict[str, tuple[str, str | None]] = {
    "load": ("mnistlab.data", "load"),
    "fit": ("mnistlab.train", "fit"),
    "TrainConfig": ("mnistlab.train", "TrainConfig"),
    "run": ("mnistlab.api", "run"),
    "plan": ("mnistlab.api", "plan"),
    "read_results": ("mnistlab.api", "read_results"),
    "status": ("mnistlab.api", "status"),
    "data": ("mnistlab.data", None),
    "train": ("mnistlab.train", None),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:  # PEP 562: the API is imported when first used
    try:
        module, attribute = _API[name]
    except KeyError:
        raise AttributeError(f"module 'mnistlab' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
