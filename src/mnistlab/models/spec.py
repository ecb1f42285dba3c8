"""What a model family is: a frozen spec that builds its network (`ModelSpec`), and a grammar that reads a
spec from text (`Family`, registered once in the family's own module).

A sweep asks a spec, never which family it is: its label (`name`, which its family's parser reads back),
the data view its input takes, its input shape and depth, its network (`build`), its parameter count
(`parameter_count`) and forward multiply-adds (`models.summary.spec_forward_macs`). Text from the command
line or a config (`--set models=1000-1000,32k4s1-64k4s2`) is read by `parse_spec`, which hands it to the
family whose grammar it matches. So a new family is one module under models/ that defines its spec and
calls `register_family`; every sweep then accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from mnistlab.errors import ConfigError


@runtime_checkable
class ModelSpec(Protocol):
    """A frozen, hashable description of one network: equal specs build the same architecture."""

    family: ClassVar[str]  # the family's name ("MLP", "CNN"), as tables and metric keys show it
    view: ClassVar[str]    # the `mnistlab.data.load` view its input takes ("flat", "image")

    @property
    def name(self) -> str:
        """Its label in tables and metric keys ('MLP 1000-1000', 'CNN 32k4s1-64k4s2')."""
        ...

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One input's shape, without the batch dimension."""
        ...

    @property
    def depth(self) -> int:
        """Its weight layers."""
        ...

    def build(self) -> nn.Module:
        """The network, freshly initialised (from torch's current seed)."""
        ...

    def describe(self) -> str:
        """Its layers in a few words."""
        ...


@dataclass(frozen=True)
class Family:
    """A model family's grammar: which texts are its specs (`pattern`), how to read one (`parse`), and an
    example for error messages."""

    name: str
    spec_type: type
    pattern: re.Pattern[str]
    parse: Callable[[str], ModelSpec]
    example: str


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Make a family's specs readable from text (called once, by the module that defines the family)."""
    FAMILIES[family.name] = family
    return family


def parse_spec(text: str, expected: str | None = None) -> ModelSpec:
    """The spec that `text` writes, read by the family whose grammar matches it (an MLP's '1000-1000', a CNN's
    '32k4s1-64k4s2', ...). Text that no family's grammar matches is read by the `expected` family, whose
    parser says what is wrong with it; without one, the error lists every family's form."""
    for family in FAMILIES.values():
        if family.pattern.fullmatch(text.strip()):
            return family.parse(text)
    if expected is not None:
        return FAMILIES[expected].parse(text)
    shown = text if len(text) <= 60 else f"{text[:40]}…({len(text):,} characters)"
    forms = ", ".join(f"{f.name} {f.example}" for f in FAMILIES.values())
    raise ConfigError(f"bad model spec {shown!r}: write it in one family's form ({forms})")


def family_of(spec: ModelSpec) -> Family:
    """The registered family of a spec."""
    return FAMILIES[spec.family]


@cache
def parameter_count(spec: ModelSpec) -> int:
    """The parameters of the network `spec` builds, counted on the meta device (shapes only, nothing
    allocated), so a spec too large for memory, or a CNN that shrinks the image to nothing, is found
    before anything is trained."""
    with torch.device("meta"):
        return sum(p.numel() for p in spec.build().parameters())
