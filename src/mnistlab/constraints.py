"""Rules on config fields, declared once beside the fields and checked in one place.

A config dataclass says, per field, which values it takes (as scikit-learn's `_parameter_constraints`):

    @dataclass(frozen=True)
    class Config(Constrained):
        epochs: int = 10
        precision: str = "auto"

        CONSTRAINTS: ClassVar[Constraints] = {"epochs": [Interval(1, 1_000)], "precision": [PRECISION]}

`Constrained.validate()` checks every declared field (`check_constraints`), then the config's
`cross_check()`: the rules that bind several fields (a split that leaves images on both sides, a model
spec that parses and fits in memory), which can rely on each field being valid on its own.

A field annotated `X | None` may be None (there None means "all" or "off"), and no rule applies to it.
Each rule words its refusal as `name must be ..., got value`; `message` replaces that wording where a
field's refusal reads better otherwise. It is a `str.format` template of `name`, `value` and the
rule's own extras (`item`, the offending element of a sequence; `choices`).
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mnistlab.errors import ConfigError


def shorten(text: str, limit: int = 60) -> str:
    """`text` cut to about `limit` characters, so that an error line never echoes a huge value."""
    return text if len(text) <= limit else f"{text[:limit - 20]}…{text[-10:]} ({len(text):,} characters)"


def shown(value: Any) -> Any:
    """`value` as an error line quotes it: sequences and strings shortened, numbers as they are."""
    if isinstance(value, tuple | list):
        return shorten(str(value))
    return shorten(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Constraint:
    """One rule a field's value must follow. Subclasses say what fails (`failure`) and how it reads."""

    message: str = field(default="", kw_only=True)

    def failure(self, value: Any) -> dict[str, Any] | None:
        """None when `value` follows the rule, else the extras that its message may quote."""
        raise NotImplementedError

    def wording(self) -> str:
        """The default message template."""
        raise NotImplementedError

    def check(self, name: str, value: Any) -> None:
        """Raise a ConfigError naming field `name` and `value` unless the value follows the rule."""
        extras = self.failure(value)
        if extras is not None:
            raise ConfigError((self.message or self.wording()).format(name=name, value=shown(value), **extras))


@dataclass(frozen=True)
class Interval(Constraint):
    """A finite number from `low` to `high` (either may be None: no bound); `closed` says which ends count."""

    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"
    note: str = ""  # said after the range, e.g. " (or None for all)"

    def failure(self, value: Any) -> dict[str, Any] | None:
        if isinstance(value, float) and not math.isfinite(value):
            return {}
        low_in = self.closed in ("both", "left")
        high_in = self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if low_in else value > self.low)
        below = self.high is None or (value <= self.high if high_in else value < self.high)
        return None if above and below else {}

    def wording(self) -> str:
        low_in, high_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.high is None:
            if self.low == 0:
                rule = "a non-negative number" if low_in else "a positive number"
            else:
                rule = f"at least {self.low:,}" if low_in else f"above {self.low:,}"
        elif self.low is None:
            rule = f"at most {self.high:,}" if high_in else f"below {self.high:,}"
        elif self.closed == "both":
            rule = f"between {self.low:,} and {self.high:,}"
        else:
            rule = f"in {'[' if low_in else '('}{self.low:,}, {self.high:,}{']' if high_in else ')'}"
        return "{name} must be " + rule + self.note + ", got {value}"


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of `choices`."""

    choices: Sequence[Any]

    def failure(self, value: Any) -> dict[str, Any] | None:
        return None if value in self.choices else {"choices": ", ".join(map(str, self.choices))}

    def wording(self) -> str:
        return "unknown {name} {value!r}; choose one of {choices}"


@dataclass(frozen=True)
class AnyOf(Constraint):
    """A value that follows at least one of `rules` (0 or 2-784, say); say the alternatives in `message`."""

    rules: tuple[Constraint, ...]

    def failure(self, value: Any) -> dict[str, Any] | None:
        return None if any(rule.failure(value) is None for rule in self.rules) else {}

    def wording(self) -> str:
        return "{name} must be one of: " + "; ".join(rule.wording() for rule in self.rules) + ", got {value}"


@dataclass(frozen=True)
class Members(Constraint):
    """A sequence whose every item is one of `choices`; `noun` names an item in the message."""

    choices: Sequence[Any]
    noun: str = "item"

    def failure(self, value: Any) -> dict[str, Any] | None:
        bad = next((item for item in value if item not in self.choices), None)
        return None if bad is None else {"item": shown(bad), "choices": ", ".join(map(str, self.choices)),
                                         "noun": self.noun}

    def wording(self) -> str:
        return "unknown {noun} {item!r} in {name}; choose from {choices}"


@dataclass(frozen=True)
class Each(Constraint):
    """A sequence whose every item follows `rule`."""

    rule: Constraint

    def failure(self, value: Any) -> dict[str, Any] | None:
        bad = [item for item in value if self.rule.failure(item) is not None]
        return {"item": shown(bad[0])} if bad else None

    def wording(self) -> str:
        return "every item of {name} must follow its rule, got {item}"

    def check(self, name: str, value: Any) -> None:
        if self.message:
            super().check(name, value)
            return
        for item in value:  # without a message of its own, the first bad item's refusal speaks
            self.rule.check(f"every item of {name}", item)


@dataclass(frozen=True)
class MinItems(Constraint):
    """A sequence of at least `count` items."""

    count: int = 1

    def failure(self, value: Any) -> dict[str, Any] | None:
        return None if len(value) >= self.count else {}

    def wording(self) -> str:
        return "{name} must name at least " + f"{self.count}" + " item(s), got {value}"


@dataclass(frozen=True)
class Distinct(Constraint):
    """A sequence in which no item repeats; `item` is the first repeated one."""

    def failure(self, value: Any) -> dict[str, Any] | None:
        seen: set[Any] = set()
        for item in value:
            if item in seen:
                return {"item": shown(item), "joined": shown(", ".join(map(str, value)))}
            seen.add(item)
        return None

    def wording(self) -> str:
        return "{name} lists {item!r} twice"


Constraints = Mapping[str, Sequence[Constraint]]


def rules_of(cls: type, *names: str) -> dict[str, Sequence[Constraint]]:
    """The rules `cls` declares for the fields `names`, for a config that hands fields of the same name on to
    a `cls` (a task's epochs and lr go to its TrainConfig): they are declared once, by `cls`."""
    return {name: cls.CONSTRAINTS[name] for name in names}


@functools.cache
def _optional_fields(cls: type) -> frozenset[str]:
    """The fields of `cls` annotated `X | None`."""
    optional = set()
    for name, annotation in typing.get_type_hints(cls).items():
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and \
                type(None) in typing.get_args(annotation):
            optional.add(name)
    return frozenset(optional)


def check_constraints(config: Any) -> None:
    """Check every field that `config`'s class declares in CONSTRAINTS, in declaration order."""
    cls = type(config)
    optional = _optional_fields(cls)
    for name, rules in getattr(cls, "CONSTRAINTS", {}).items():
        value = getattr(config, name)
        if value is None and name in optional:
            continue
        for rule in rules:
            rule.check(name, value)


class Constrained:
    """Base of a config dataclass whose fields declare their rules in CONSTRAINTS."""

    CONSTRAINTS: ClassVar[Constraints] = {}

    def validate(self) -> None:
        """Refuse, with one clear ConfigError, a config that no run could use."""
        check_constraints(self)
        self.cross_check()

    def cross_check(self) -> None:
        """The rules that bind several fields; runs after every field passed its own."""
