"""Model families are declared once, in models/: each spec satisfies the ModelSpec protocol and each family
registers its grammar, so the sweeps read any family's text, and a new family (here a toy one registered
by the test, touching nothing in tasks/) is accepted, planned and trained by Task 3's sweep."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import pytest
from torch import nn

from mnistlab.errors import ConfigError
from mnistlab.execution.runner import run_in_context
from mnistlab.models import (
    CNN1,
    FAMILIES,
    CNNSpec,
    Family,
    MLPSpec,
    ModelSpec,
    family_of,
    parameter_count,
    parse_mlp,
    parse_spec,
    register_family,
)
from mnistlab.tasks.task3 import TASK as TASK3
from mnistlab.tasks.task4 import TASK as TASK4


@dataclass(frozen=True)
class WideSpec:
    """A toy family: one hidden layer of `width` units, written 'wide<width>'."""

    width: int = 8
    family: ClassVar[str] = "Wide"
    view: ClassVar[str] = "flat"

    @property
    def name(self) -> str:
        return f"Wide {self.width}"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (784,)

    @property
    def depth(self) -> int:
        return 2

    def build(self) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, self.width), nn.ReLU(), nn.Linear(self.width, 10))

    def describe(self) -> str:
        return f"[784, {self.width}, 10] relu"


@pytest.fixture
def wide_family(monkeypatch: pytest.MonkeyPatch) -> Family:
    monkeypatch.setattr("mnistlab.models.spec.FAMILIES", {**FAMILIES})
    return register_family(Family("Wide", WideSpec, re.compile(r"wide([0-9]+)"),
                                  lambda text: WideSpec(int(text.strip()[4:])), "wide64"))


def test_every_registered_family_declares_the_protocol() -> None:
    assert {"MLP", "CNN"} <= set(FAMILIES)
    for spec in (MLPSpec(), CNNSpec(), CNN1, parse_mlp("")):
        assert isinstance(spec, ModelSpec) and family_of(spec).spec_type is type(spec)
        assert parameter_count(spec) == sum(p.numel() for p in spec.build().parameters())


def test_text_goes_to_the_family_whose_grammar_it_matches() -> None:
    assert parse_spec("1000-1000") == parse_mlp("1000-1000") == MLPSpec(hidden=(1000, 1000))
    assert parse_spec("") == parse_mlp("") and parse_spec("0") == MLPSpec(hidden=())
    assert parse_spec("32k4s1-64k4s2-128k4s2") == CNN1 == parse_spec(CNN1.name)
    with pytest.raises(ConfigError, match="CNN spec"):
        parse_spec("32k4")  # a CNN's form, badly written: the CNN parser says what is wrong
    with pytest.raises(ConfigError, match="MLP spec"):
        parse_spec("1000x1000", "MLP")  # no family's form: the sweep's own family explains
    with pytest.raises(ConfigError, match=r"bad model spec 'nonsense'.*MLP 1000-1000.*CNN 32k4s1"):
        parse_spec("nonsense")


def test_the_sweeps_keep_their_specs_and_read_any_family() -> None:
    config = TASK4.config("quick", {"models": ("32k4s1-64k4s2-128k4s2", "1000-1000"), "mlp_models": ("16", "8k3s1")})
    runs = TASK4.sub_runs(config, 0)
    assert [type(r.model) for r in runs] == [CNNSpec, MLPSpec, MLPSpec, CNNSpec]
    assert runs[0].model == CNN1 and runs[1].model == parse_mlp("1000-1000")


def test_a_new_family_registered_in_models_is_accepted_by_a_sweep(wide_family: Family, ctx) -> None:
    config = TASK3.config("quick", {"models": ("wide12", "16"), "epochs": 1, "train_limit": 300, "test_limit": 200})
    assert [r.model for r in TASK3.sub_runs(config, 0)] == [WideSpec(12), MLPSpec(hidden=(16,))]
    result = run_in_context(TASK3, config, ctx)
    assert result.metrics["wide_12_params"] == 784 * 12 + 12 + 12 * 10 + 10
    assert [row[0] for row in result.tables["sweep"].rows] == ["Wide 12", "MLP 16"]


def test_a_text_no_family_reads_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match="wide12"):
        TASK3.config("quick", {"models": ("wide12",)})
