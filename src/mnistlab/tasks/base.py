"""What every experiment is: a config dataclass, named profiles, and `run(config, ctx) -> Result`.

A task module defines

    @dataclass(frozen=True)
    class Config: ...                       # every knob, with the brief's values as defaults
    PROFILES = {"quick": {...}, "brief": {...}}   # overrides of Config, as data
    def run(config: Config, ctx: Context) -> Result: ...
    TASK = Task(name=..., title=..., config_cls=Config, profiles=PROFILES, run=run)

and is listed in `mnistlab.tasks.REGISTRY`. The runner (not the task) writes
OUT/<task>/result.json; the task saves its figures through `ctx.figure`.

A field named `precision` or `*_precision` may be "auto": the runner replaces it with the precision
this device computes fastest (`for_device`) before anything is keyed, trained or recorded.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnistlab.errors import ConfigError
from mnistlab.progress import progress
from mnistlab.runtime import resolve_precision
from mnistlab.store import SubRunCache

PROFILE_NAMES = ("quick", "brief")


@dataclass
class Table:
    """A table for the report: column names, rows of cells, and a caption."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Figure:
    """A saved figure: its file name (relative to the task folder) and caption."""

    file: str
    caption: str = ""


@dataclass
class Reference:
    """A number that a published solution reported, beside the metric of ours that it compares with.

    `metric` names a key of Result.metrics (or "" when we have no directly comparable number).
    """

    quantity: str
    published: str
    source: str
    metric: str = ""


@dataclass
class Result:
    """What a task returns: flat metrics, tables, figures, prose answers and published reference numbers."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)


@dataclass
class Context:
    """What the runner hands a task: where to write, which device, seed and profile, and the sub-run cache."""

    out_dir: Path
    device: torch.device
    seed: int
    profile: str
    cache: SubRunCache
    data_dir: Path | None = None
    show_progress: bool | None = None
    tensorboard_dir: Path | None = None  # `--tensorboard DIR`: where per-epoch histories also go as event files

    def progress(self, iterable: Iterable | None = None, *, desc: str = "", total: int | None = None):
        return progress(iterable, desc=desc, total=total, enabled=self.show_progress)

    def figure(self, fig, name: str, caption: str = "", dpi: int = 130) -> Figure:
        """Save a matplotlib figure as OUT/<task>/<name>.png (atomically) and close it."""
        import matplotlib.pyplot as plt

        from mnistlab.viz import save_figure

        path = self.out_dir / f"{name}.png"
        save_figure(fig, path, dpi=dpi)
        plt.close(fig)
        return Figure(file=path.name, caption=caption)


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    config_cls: type
    profiles: dict[str, dict[str, Any]]
    run: Callable[[Any, Context], Result]
    description: str = ""

    def config(self, profile: str, overrides: dict[str, Any] | None = None) -> Any:
        """The config for a profile, with `--set` overrides applied (already parsed to field types)."""
        if profile not in PROFILE_NAMES:
            raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_NAMES)}")
        values = {**self.profiles.get(profile, {}), **(overrides or {})}
        config = self.config_cls(**values)
        validate = getattr(config, "validate", None)
        if validate is not None:
            validate()
        return config

    def field_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.config_cls)]

    def parse_override(self, key: str, raw: str) -> Any:
        """Turn the text of `--set key=value` into the field's type, or raise a ConfigError."""
        fields = {f.name: f for f in dataclasses.fields(self.config_cls)}
        if key not in fields:
            hint = difflib.get_close_matches(key, fields, n=1)
            raise ConfigError(
                f"{self.name} has no option {key!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else f"; options: {', '.join(fields)}")
            )
        hints = typing.get_type_hints(self.config_cls)
        try:
            return parse_value(raw, hints[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: bad value for {key}: {raw!r} ({exc})") from None


def for_device(config: Any, device: torch.device) -> Any:
    """`config` with each "auto" precision field resolved for `device` (bf16 where it is native, else fp32),
    so that cache keys, result.json and the report name the precision that actually ran."""
    resolved = {f.name: resolve_precision(value, device) for f in dataclasses.fields(config)
                if (f.name == "precision" or f.name.endswith("_precision"))
                and (value := getattr(config, f.name)) == "auto"}
    return dataclasses.replace(config, **resolved) if resolved else config


def parse_value(raw: str, annotation: Any) -> Any:
    """Parse command-line text as `annotation` (int, float, bool, str, Optional, tuple[...])."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null", "") and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return parse_value(raw, arg)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin in (tuple, list, Sequence):
        parts = [p for p in raw.strip("()[] ").split(",") if p.strip()]
        item = args[0] if args else str
        values = [parse_value(p.strip(), item) for p in parts]
        return tuple(values) if origin is tuple else values
    if origin is typing.Literal:
        if raw not in [str(a) for a in args]:
            raise ValueError(f"choose one of {', '.join(map(str, args))}")
        return next(a for a in args if str(a) == raw)
    if annotation is bool:
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if annotation is int:
        return int(raw)
    if annotation is float:
        return float(raw)
    if annotation is str:
        return raw
    raise TypeError(f"cannot set a field of type {annotation} from the command line")
