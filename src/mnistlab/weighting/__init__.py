"""Multi-task loss weightings, kept apart from the architecture, one method per module.

In the style of LibMTL's `weighting/`: the network only returns one tuple of logits per batch; a
weighting (an `nn.Module` objective for `train.fit`) turns (outputs, targets) into the loss, may own
learnable parameters (which `fit` optimises with the model) or do its own backward pass
(`manual_backward(outputs, targets, model) -> loss`, leaving gradients in `.grad`). Each method is a
class registered with `@register` in its own module below; adding one is a new module and its name in
METHODS.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from mnistlab.errors import ConfigError
from mnistlab.weighting.base import WEIGHTINGS, Weighting, effective_lambda, register
from mnistlab.weighting.fixed import FixedWeighting
from mnistlab.weighting.pcgrad import PCGradWeighting, conflict_coefficients, gram_matrix
from mnistlab.weighting.uncertainty import UncertaintyWeighting

# The modules that register a method, in the order tables, figures and Task 6's default strategies list them.
METHODS = ("fixed", "uncertainty", "pcgrad", "gradnorm")
for _module in METHODS:
    importlib.import_module(f"{__name__}.{_module}")
STRATEGIES = tuple(sorted(WEIGHTINGS, key=lambda name: METHODS.index(WEIGHTINGS[name].__module__.rpartition(".")[2])))
# The weightings that set their own balance (every one but the fixed lambda, which a task sets itself).
LEARNED = tuple(name for name in STRATEGIES if name != FixedWeighting.name)


class _RegisteredLearned(Sequence[str]):
    """The learned weightings registered now: the package's (LEARNED) and any registered since, from a module
    of the user's (docs/extending.md), which a config may then name."""

    def _names(self) -> tuple[str, ...]:
        return tuple(name for name in WEIGHTINGS if name != FixedWeighting.name)

    def __getitem__(self, index):  # type: ignore[override]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


REGISTERED_LEARNED: Sequence[str] = _RegisteredLearned()


def weighting_class(name: str) -> type[Weighting]:
    """The registered weighting called `name`."""
    if name not in WEIGHTINGS:
        raise ConfigError(f"unknown weighting strategy {name!r}; choose one of {', '.join(WEIGHTINGS)}")
    return WEIGHTINGS[name]


def make_weighting(name: str, *, lam: float = 0.5, tasks: int = 2) -> Weighting:
    """A weighting by name: 'fixed' (the brief's lambda), or a learned one such as 'uncertainty'."""
    return weighting_class(name).make(lam=lam, tasks=tasks)


__all__ = ["LEARNED", "METHODS", "REGISTERED_LEARNED", "STRATEGIES", "WEIGHTINGS", "FixedWeighting", "PCGradWeighting",
           "UncertaintyWeighting", "Weighting", "conflict_coefficients", "effective_lambda", "gram_matrix",
           "make_weighting", "register", "weighting_class"]
