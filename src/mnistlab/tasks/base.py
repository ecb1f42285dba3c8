"""What every experiment is: a config dataclass, named profiles, a plan and an analysis.

A task is a folder `mnistlab/tasks/<name>/` (docs/architecture.md) whose modules define

    config.py    @dataclass(frozen=True) class Config(Constrained): ...   # every knob, the brief's values as
                 PROFILES = {"quick": {...}, "brief": {...}}               # defaults; profiles as overrides
    plan.py      def plan(config, seed) -> list[SubRun]                    # what it trains (or computes)
    findings.py  def compute_findings(config, ctx) -> Findings             # reads ctx.trained(run); numbers
    present.py   def present(findings, config, ctx) -> Result              # metrics, tables, figures
    prose.py     def prose(findings, config) -> dict[str, str]             # paragraphs by id
    __init__.py  TASK = Task.from_folder(__name__, name=..., title=..., ...)

and is listed in `mnistlab.catalog.TASK_NAMES` (or registered with `mnistlab.tasks.register`).
Between the plan and the analysis the runner has an executor train every planned sub-run that the cache
lacks. The runner (not the task) writes OUT/<task>/result.json; the task saves its figures through
`ctx.figure`. A slow computation that is not a network (Task 1's pair SVMs and t-SNE, Task 2's
perceptrons) is planned as a sub-run too, of a kind whose model is `no_model` (mnistlab.execution.subrun),
so plans list it and executors spread it; only a slow step of the analysis that needs its own results
first (the baselines' t-SNE of trained networks' features) is cached through `ctx.memo`.

A field named `precision` or `*_precision` may be "auto": the runner replaces it with the precision
this device computes fastest (`for_device`) before anything is keyed, trained or recorded.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnistlab.analysis.published import Reference

# The profiles and their one description each live in mnistlab.catalog (light, for `--help`).
from mnistlab.catalog import PROFILE_NAMES, PROFILES  # noqa: F401
from mnistlab.constraints import shorten
from mnistlab.errors import ConfigError
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.progress import progress
from mnistlab.execution.runtime import resolve_precision
from mnistlab.execution.subrun import SubRun, Trained


def opt(default: Any, help: str, spec: str | None = None) -> Any:
    """A config field with its one-line help text (`mnistlab show TASK` prints it):
    `epochs: int = opt(10, "training epochs per network")`. `spec` names the grammar of a field whose
    values are network specs ("mlp" or "cnn", see mnistlab.catalog.SPEC_GRAMMAR)."""
    return field(default=default, metadata={"help": help, **({"spec": spec} if spec else {})})


def field_help(config_cls: type) -> dict[str, str]:
    """{field name: its help text ("" where a field has none)} of a task's config class."""
    return {f.name: str(f.metadata.get("help", "")) for f in dataclasses.fields(config_cls)}


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


class Paragraph(str):
    """A paragraph of a task's discussion that states a result: its text, and `finding`, the one sentence
    of it that the report lists among the section's findings (the paragraph's lead, written by the task
    from its numbers, so the report never has to pick a sentence out of English). A plain `str`
    paragraph (how a run was made, a caveat) is discussion only. Being a `str`, it reads and compares
    as its text."""

    finding: str

    def __new__(cls, finding: str, detail: str = "") -> Paragraph:
        paragraph = super().__new__(cls, f"{finding} {detail}".strip() if detail else finding)
        paragraph.finding = finding
        return paragraph

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (executors, memo) as what it is, finding and all
        return Paragraph, (self.finding, str(self)[len(self.finding):].strip())


def finding_of(paragraph: str) -> str:
    """The finding a paragraph states ("" for a discussion-only paragraph)."""
    return getattr(paragraph, "finding", "")


@dataclass
class Result:
    """What a task returns: flat metrics, tables, figures, its discussion as paragraphs by id (each a `str`,
    a `Paragraph` where it states a finding) and published reference numbers."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    paragraphs: dict[str, str] = field(default_factory=dict)
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
    tensorboard_dir: Path | None = None
    finished: dict[SubRun, Trained] = field(default_factory=dict)  # the executed plan, filled by the runner
    memos: list[str] = field(default_factory=list)  # cache entries of memoised results this analysis used
    figure_format: str = "png"  # png, svg or pdf: what ctx.figure saves (a run option, in result.json)

    def trained(self, run: SubRun) -> Trained:
        """The finished sub-run `run` of this task's plan (the analysis never trains)."""
        try:
            return self.finished[run]
        except KeyError:
            raise RuntimeError(f"sub-run {run.label} was not in the task's plan") from None

    def compare(self, contrast: Any, metrics: dict[str, Any]) -> Any:
        """Test one contrast on this seed's networks (McNemar on their test-set predictions): a
        `mnistlab.analysis.contrasts.ContrastResult` whose sentence (about the two trained networks) a task's
        prose may quote."""
        from mnistlab.analysis.contrasts import compare

        return compare(contrast, [self.seed], {self.seed: metrics}, self.finished)

    def compare_family(self, contrasts: Sequence[Any], metrics: dict[str, Any]) -> list[Any]:
        """`compare` for a family of contrasts, their p-values adjusted together
        (`mnistlab.analysis.contrasts.compare_family`)."""
        from mnistlab.analysis.contrasts import compare_family

        return compare_family(contrasts, [self.seed], {self.seed: metrics}, self.finished)

    def memo(self, kind: str, params: Any, compute: Callable[[Path], dict[str, Any]],
             label: str = "") -> tuple[dict[str, Any], Path]:
        """A cached step of the analysis that needs the analysis' own results (a t-SNE of trained networks'
        features, see SubRunCache.memo): (record, its folder). Work that needs only the config is a sub-run."""
        record, folder = self.cache.memo(kind, params, compute, label, task=self.out_dir.name)
        self.memos.append(folder.name)
        return record, folder

    def progress(self, iterable: Iterable | None = None, *, desc: str = "", total: int | None = None):
        return progress(iterable, desc=desc, total=total, enabled=self.show_progress)

    def figure(self, fig, name: str, caption: str = "", dpi: int = 130) -> Figure:
        """Save a matplotlib figure as OUT/<task>/<name>.<figure_format> (atomically) and close it."""
        import matplotlib.pyplot as plt

        from mnistlab.viz import save_figure

        path = self.out_dir / f"{name}.{self.figure_format}"
        save_figure(fig, path, dpi=dpi)
        plt.close(fig)
        return Figure(file=path.name, caption=caption)


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    config_cls: type
    profiles: dict[str, dict[str, Any]]
    # The analysis, in three steps that read the trained networks and train nothing: `findings(config, ctx)`
    # measures (numbers only), `present(findings, config, ctx)` turns them into metrics, tables and figures
    # (a Result), `prose(findings, config)` into the discussion's paragraphs by id.
    findings: Callable[[Any, Context], Any] | None = None
    present: Callable[[Any, Any, Context], Result] | None = None
    prose: Callable[[Any, Any], dict[str, str]] | None = None
    plan: Callable[[Any, int], list[SubRun]] | None = None
    contrasts: Callable[[Any], list[Any]] | None = None  # the comparisons its prose draws (mnistlab.analysis.contrasts)
    description: str = ""
    # What a reader wants first: the id of the table (in Result.tables) and the stem of the figure file that
    # answer the task's main question; the report opens the section with them (else with its first of each).
    key_table: str = ""
    key_figure: str = ""
    # The numbers published solutions reported for this task (mnistlab.analysis.published), beside our metrics.
    published: tuple[Reference, ...] = ()
    # The one number that answers the task's main question, for the README's results table: (what it is, the
    # key of Result.metrics that holds it); published figures of the same metric stand beside it.
    headline: tuple[str, str] = ()
    # With several seeds, the task's key figures drawn from every seed (means with 95% t-intervals):
    # (config, {seed: that seed's metrics}, ctx) -> figures saved through ctx.figure. ctx.out_dir is the
    # task folder and ctx.finished holds every seed's sub-runs. Each replaces the first seed's figure of the
    # same file name in the aggregated result.
    seed_figures: Callable[[Any, dict[int, dict[str, Any]], Context], list[Figure]] | None = None
    # How many seeds a profile runs when the command line names none (profile -> count; absent: one). Where a
    # section's findings compare configurations they need a test across seeds; seed 0 stays the assignment's run.
    default_seeds: dict[str, int] = field(default_factory=dict)

    def seeds_for(self, profile: str, first: int = 0) -> list[int]:
        """The seeds `profile` runs by default: `first` and the next ones (extended runs as many as brief)."""
        count = self.default_seeds.get(profile, self.default_seeds.get("brief", 1) if profile == "extended" else 1)
        return [first + i for i in range(count)]

    # Seconds its analysis (everything but training its sub-runs: t-SNE, perceptrons, pair classifiers,
    # figures) takes for one seed of `config` on the reference machine (2-core AMD EPYC, AVX512-BF16), for
    # `mnistlab plan`; calibrated on the brief profile's measured time. None: about nothing.
    analysis_cost: Callable[[Any], float] | None = None

    # Instead of findings, present and prose, a small task (a test's fake, say) may analyse in one function.
    analyse: Callable[[Any, Context], Result] | None = None

    @classmethod
    def from_folder(cls, package: str, **declared: Any) -> Task:
        """The task whose folder is the package `package` (a task's `__init__` passes its `__name__`): its
        parts taken from the folder's modules by the layout's names -- `config.Config` and `config.PROFILES`,
        `plan.plan` and `plan.contrasts`, `findings.compute_findings`, `present.present`,
        `present.PUBLISHED` and `present.seed_figures`, `prose.prose` (contrasts, the published figures and
        seed figures where the folder has them) -- and the rest (name, title, description, key table and
        figure, headline, default seeds, analysis cost) as `declared`."""
        def part(module: str, name: str, required: bool = True) -> Any:
            found = getattr(importlib.import_module(f"{package}.{module}"), name, None)
            if found is None and required:
                raise ConfigError(f"{package}.{module} defines no {name}, which every task folder has")
            return found

        parts = {"config_cls": part("config", "Config"), "profiles": part("config", "PROFILES"),
                 "plan": part("plan", "plan"), "contrasts": part("plan", "contrasts", False),
                 "findings": part("findings", "compute_findings"), "present": part("present", "present"),
                 "prose": part("prose", "prose"), "published": tuple(part("present", "PUBLISHED", False) or ()),
                 "seed_figures": part("present", "seed_figures", False)}
        return cls(**{**parts, **declared})

    def analysis(self, config: Any, ctx: Context) -> Result:
        """Analyse one seed's trained networks: findings -> metrics, tables, figures -> paragraphs by id."""
        if self.analyse is not None:
            return self.analyse(config, ctx)
        measured = self.findings(config, ctx)
        result = self.present(measured, config, ctx)
        result.paragraphs = {**self.prose(measured, config), **result.paragraphs}
        return result

    def sub_runs(self, config: Any, seed: int) -> list[SubRun]:
        """The networks this task trains for `config` and `seed`, each once."""
        return list(dict.fromkeys(self.plan(config, seed))) if self.plan is not None else []

    def config(self, profile: str, overrides: dict[str, Any] | None = None) -> Any:
        """The config for a profile, with `--set` overrides applied (already parsed to field types)."""
        if profile not in PROFILE_NAMES:
            raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_NAMES)}")
        base = {**self.profiles.get("brief", {})} if profile == "extended" else {}
        values = {**base, **self.profiles.get(profile, {}), **(overrides or {})}
        config = self.config_cls(**values)
        # A Constrained config checks its declared field rules, then its cross-field ones.
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
                f"{self.name} has no option {shorten(key)!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else f"; options: {', '.join(fields)}")
            )
        hints = typing.get_type_hints(self.config_cls)
        try:
            return parse_value(raw, hints[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: bad value for {key}: {shorten(raw)!r} ({exc})") from None


def for_device(config: Any, device: torch.device) -> Any:
    """`config` with each "auto" precision field resolved for `device` (bf16 where it is native, else fp32),
    so that cache keys, result.json and the report name the precision that actually ran."""
    resolved = {f.name: resolve_precision(value, device) for f in dataclasses.fields(config)
                if (f.name == "precision" or f.name.endswith("_precision"))
                and (value := getattr(config, f.name)) == "auto"}
    return dataclasses.replace(config, **resolved) if resolved else config


# Plain ASCII numbers only: Python's int() and float() also take Unicode digits ("٣", "１"), which a
# user almost never means and which would make two spellings of one value look different.
_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:_[0-9]+)*\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# Seeds, counts and sizes end up in int64 tensors and generators: a bigger value would overflow
# only after the run has started.
INT_RANGE = (-(2**63), 2**63 - 1)
_BRACKETS = {"(": ")", "[": "]"}


def _split_items(raw: str) -> list[str]:
    text = raw.strip()
    if text[:1] in _BRACKETS and text.endswith(_BRACKETS[text[0]]):
        text = text[1:-1]
    if any(c in text for c in "()[]"):
        raise ValueError("a list inside a list is not supported: give the items separated by commas")
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_value(raw: str, annotation: Any) -> Any:
    """Parse command-line text as `annotation` (int, float, bool, str, Optional, tuple[...]).

    Numbers are ASCII only, ints must fit in int64 and floats must be finite: NaN or infinity in a
    config would train into null metrics, and would not survive JSON.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw.strip().lower() in ("none", "null", "") and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return parse_value(raw, arg)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(dict.fromkeys(errors)))
    if origin in (tuple, list, Sequence):
        item = args[0] if args else str
        values = [parse_value(p, item) for p in _split_items(raw)]
        return tuple(values) if origin is tuple else values
    if origin is typing.Literal:
        if raw not in [str(a) for a in args]:
            raise ValueError(f"choose one of {', '.join(map(str, args))}")
        return next(a for a in args if str(a) == raw)
    if annotation is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if annotation is int:
        text = raw.strip()
        if not _INT.fullmatch(text):
            raise ValueError("expected a whole number written with the digits 0-9")
        value = int(text)
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise ValueError("a whole number this large does not fit in 64 bits")
        return value
    if annotation is float:
        text = raw.strip()
        if not _FLOAT.fullmatch(text):
            raise ValueError("expected a finite number written with the digits 0-9 (nan and inf are refused)")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("the number is too large to be finite")
        return value
    if annotation is str:
        return raw
    raise TypeError(f"cannot set a field of type {annotation} from the command line")
