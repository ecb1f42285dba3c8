"""Your own network class in a sweep: a spec that names it by its import path.

`--set task3.models=1000-1000,mypackage.models:WideMLP` puts `WideMLP` beside the brief's MLP. The
class is an `nn.Module` whose constructor takes no argument; it may say which input it takes with a
class attribute `view` ("flat": 784 pixels, the default; "image": 1x28x28). It is imported where it is
built (each executor's worker too), so its module must be importable there (installed, or on
PYTHONPATH). Its code is part of the cache key: an edit of the class retrains its networks, as an edit
of the lab's own models does (`mnistlab.execution.fingerprint`).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import torch
from torch import nn

from mnistlab.errors import ConfigError
from mnistlab.models.spec import Family, register_family

VIEWS = {"flat": (784,), "image": (1, 28, 28)}
_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@cache
def imported_class(target: str) -> type[nn.Module]:
    """The class that 'module.path:Name' names, checked to be an nn.Module subclass."""
    module_name, _, name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model {target!r}: cannot import {module_name!r} ({exc}); install it or add its folder "
                          "to PYTHONPATH") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ConfigError(f"model {target!r}: {module_name} has no nn.Module subclass named {name!r}")
    view = getattr(cls, "view", "flat")
    if view not in VIEWS:
        raise ConfigError(f"model {target!r}: its view is {view!r}; choose one of {', '.join(VIEWS)}")
    return cls


@dataclass(frozen=True)
class ImportedSpec:
    """A network class of your own, named 'module.path:ClassName' (see the module docstring)."""

    target: str

    family: ClassVar[str] = "imported"

    @property
    def view(self) -> str:  # type: ignore[override]  # per class, not per family
        return getattr(imported_class(self.target), "view", "flat")

    @property
    def name(self) -> str:
        return self.target.rpartition(":")[2]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return VIEWS[self.view]

    @property
    def depth(self) -> int:
        """Its weight layers (Linear and convolution modules), counted on a copy built on the meta device (shapes
        only, nothing allocated), as `models.spec.parameter_count` counts parameters."""
        with torch.device("meta"):
            model = self.build()
        return sum(isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d) for m in model.modules()) or 1

    def build(self) -> nn.Module:
        return imported_class(self.target)()

    def describe(self) -> str:
        return f"{self.target} ({self.view} input)"

    def code_roots(self) -> list[tuple[str, str | None]]:
        """The code its networks run, for the cache key: the class, and what it reaches."""
        module, _, name = self.target.partition(":")
        return [(module, name)]


def parse_imported(text: str) -> ImportedSpec:
    text = text.strip()
    if not _PATH.fullmatch(text):
        raise ConfigError(f"bad model {text[:80]!r}: name a class as module.path:ClassName")
    spec = ImportedSpec(text)
    imported_class(text)  # refused now, with one line, rather than when a worker builds it
    return spec


register_family(Family("imported", ImportedSpec, _PATH, parse_imported, "mypackage.models:WideMLP"))
