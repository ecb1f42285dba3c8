"""The declared field rules (mnistlab.constraints): their wording, and that every declaration names a field."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

from mnistlab.constraints import (
    AnyOf,
    Constrained,
    Constraints,
    Distinct,
    Each,
    Interval,
    Members,
    MinItems,
    OneOf,
    check_constraints,
)
from mnistlab.errors import ConfigError
from mnistlab.models.inspect import DreamConfig
from mnistlab.tasks import REGISTRY
from mnistlab.train import TrainConfig


@pytest.mark.parametrize(("rule", "value", "message"), [
    (Interval(1, 1_000), 0, "n must be between 1 and 1,000, got 0"),
    (Interval(1, 1_000), 1_001, "n must be between 1 and 1,000, got 1001"),
    (Interval(1, 60_000, note=" (or None for all)"), 0, "n must be between 1 and 60,000 (or None for all), got 0"),
    (Interval(0, 1, closed="right"), 0.0, "n must be in (0, 1], got 0.0"),
    (Interval(0, 1, closed="left"), 1.0, "n must be in [0, 1), got 1.0"),
    (Interval(0, None, closed="neither"), 0.0, "n must be a positive number, got 0.0"),
    (Interval(0, None, closed="neither"), float("inf"), "n must be a positive number, got inf"),
    (Interval(0, None), -1.0, "n must be a non-negative number, got -1.0"),
    (Interval(0, None), float("nan"), "n must be a non-negative number, got nan"),
    (Interval(2, None), 1, "n must be at least 2, got 1"),
    (OneOf(("a", "b")), "c", "unknown n 'c'; choose one of a, b"),
    (Members(("a", "b"), noun="letter"), ("a", "c"), "unknown letter 'c' in n; choose from a, b"),
    (Distinct(), ("a", "b", "a"), "n lists 'a' twice"),
    (Distinct(message="{name} lists a letter twice: {joined}"), ("a", "a"), "n lists a letter twice: a, a"),
    (MinItems(2), ("a",), "n must name at least 2 item(s), got ('a',)"),
    (Each(Interval(0, 9)), (1, 10), "every item of n must be between 0 and 9, got 10"),
    (Each(Interval(0, 9), message="{name} must be digits, got {value}"), (1, 10), "n must be digits, got (1, 10)"),
    (AnyOf((OneOf((0,)), Interval(2, 9)), message="{name} must be 0 or 2-9, got {value}"), 1,
     "n must be 0 or 2-9, got 1"),
])
def test_each_rule_refuses_in_words_that_name_the_field_and_value(rule, value, message):
    with pytest.raises(ConfigError) as caught:
        rule.check("n", value)
    assert str(caught.value) == message


@pytest.mark.parametrize(("rule", "value"), [
    (Interval(1, 1_000), 1), (Interval(1, 1_000), 1_000), (Interval(0, 1, closed="neither"), 0.5),
    (OneOf(("a", "b")), "b"), (Members(("a", "b")), ()), (Distinct(), ("a", "b")), (MinItems(), ("a",)),
    (Each(Interval(0, 9)), (0, 9)), (AnyOf((OneOf((0,)), Interval(2, 9))), 0),
])
def test_each_rule_takes_what_it_allows(rule, value):
    rule.check("n", value)


def test_a_long_value_is_not_echoed_whole():
    with pytest.raises(ConfigError) as caught:
        OneOf(("a",)).check("n", "x" * 100_000)
    assert len(str(caught.value)) < 200 and "100,000 characters" in str(caught.value)


@dataclasses.dataclass(frozen=True)
class _Toy(Constrained):
    limit: int | None = None
    size: int = 1
    seen: list[str] = dataclasses.field(default_factory=list)

    CONSTRAINTS: ClassVar[Constraints] = {"limit": [Interval(1, 10)], "size": [Interval(1, 10)]}

    def cross_check(self) -> None:
        self.seen.append("cross")
        if self.limit is not None and self.size > self.limit:
            raise ConfigError("size must not exceed limit")


def test_none_is_allowed_only_where_the_annotation_says_so():
    _Toy(limit=None).validate()
    with pytest.raises(TypeError):
        _Toy(size=None).validate()  # not `int | None`: no rule lets None through


def test_cross_check_runs_after_every_field_passed_its_own_rules():
    toy = _Toy(limit=0, size=5)
    with pytest.raises(ConfigError, match="limit must be between 1 and 10"):
        toy.validate()
    assert toy.seen == []
    with pytest.raises(ConfigError, match="exceed"):
        _Toy(limit=3, size=5).validate()


CONFIGS = sorted({task.config_cls for task in REGISTRY.values()} | {TrainConfig, DreamConfig},
                 key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_declared_rule_names_a_field(cls):
    names = {f.name for f in dataclasses.fields(cls)}
    assert set(getattr(cls, "CONSTRAINTS", {})) <= names


def test_the_default_of_every_config_follows_its_rules():
    for cls in CONFIGS:
        check_constraints(cls())
