"""Sub-runs as data: one frozen value describes everything that decides a trained network.

A task *plans* its networks as `SubRun` values; an executor (`mnistlab.execution.executors`) trains those the
cache lacks, in this process, in worker processes or on a Ray cluster; the task then *analyses* the
`Trained` records and trains nothing. A SubRun's canonical dict is its cache key, so two tasks that
ask for the same network (Task 5 and Task 4's CNN-1, say) share one entry and it is trained once.

What a kind of sub-run does lives in a small *kind* (`SubRunKind`): its name, how to build the untrained
model and how to train it. The module that defines a kind registers it (`register_kind`, as a model family
or a loss weighting registers itself), and a SubRun carries that module's name beside the kind's, so a
worker process or a Ray worker imports exactly what it needs. A key carries the
fingerprint of the code the sub-run runs (`mnistlab.execution.fingerprint`): the kind's build and train functions
and everything they reach, and the code of the values in the key (model spec, data, recipe), comments,
docstrings and type hints ignored; so an edit of that code retrains exactly the networks that run it,
and no version is kept by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mnistlab.errors import MnistlabError
from mnistlab.execution.fingerprint import code_fingerprint, root_of

# kind name -> the registered SubRunKind, filled by the modules that define the kinds (register_kind). What
# a kind's networks depend on is found from its code (`code_version`), not declared here.
KINDS: dict[str, SubRunKind] = {}


def register_kind(kind: SubRunKind) -> SubRunKind:
    """Make a kind known by its name (called once, by the module that defines it; a module reloaded after an
    edit registers its new definition). Two modules may not define kinds of the same name."""
    known = KINDS.get(kind.name)
    if known is not None and known.module != kind.module:
        raise MnistlabError(f"two kinds of sub-run are named {kind.name!r} ({known.module} and {kind.module})")
    KINDS[kind.name] = kind
    return kind


def kind_named(name: str, module: str = "") -> SubRunKind:
    """The registered kind `name`, importing `module` (the one that defines it) first where it is not yet
    known in this process (a fresh worker)."""
    if name not in KINDS and module:
        importlib.import_module(module)
    if name not in KINDS:
        raise MnistlabError(f"unknown sub-run kind {name!r}; known: {', '.join(KINDS) or 'none yet'}")
    return KINDS[name]


def code_version(kind: str, *values: Any, module: str = "") -> str:
    """The fingerprint of the code that a sub-run of `kind` with these key values runs: the kind's
    definition, the executor's `execute`, and the classes of the dataclasses among `values` (a model
    spec's `build`, a data description's `load`), with all they reach."""
    types: set[type] = set()
    for value in values:
        _dataclass_types(value, types)
    # A value whose code lives outside its class (a network class of the user's, named by a spec) says where.
    extra = [root for value in values for root in getattr(value, "code_roots", lambda: [])()]
    roots = [kind_named(kind, module).root(), (__name__, "execute"), *(root_of(t) for t in types), *extra]
    return code_fingerprint(roots)


def _dataclass_types(value: Any, out: set[type]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out.add(type(value))
        for f in dataclasses.fields(value):
            _dataclass_types(getattr(value, f.name), out)
    elif isinstance(value, dict):
        for v in value.values():
            _dataclass_types(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _dataclass_types(v, out)


def canonical(value: Any) -> Any:
    """A JSON value that identifies `value` exactly: dataclasses carry their type name, tuples become lists,
    and non-finite floats keep their identity ("nan", "inf", "-inf"), so distinct values never share a key."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"__type__": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.metadata.get("key", True):
                field_value = getattr(value, f.name)
                # A field added later with a default that changes nothing ("omit_default") joins the key only
                # when set, so the entries cached before it existed keep their keys.
                if f.metadata.get("omit_default") and field_value == f.default:
                    continue
                out[f.name] = canonical(field_value)
        return out
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return canonical(value.tolist())
    raise TypeError(f"cannot use a {type(value).__name__} in a sub-run key")


def key_hash(key: Any) -> str:
    text = json.dumps(canonical(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def not_in_key(default: Any) -> Any:
    """A SubRun field that changes how a sub-run is run or stored, not what it computes."""
    return field(default=default, compare=False, metadata={"key": False})


@dataclass(frozen=True)
class SubRun:
    """Everything that decides one trained network.

    kind:      the name of the `SubRunKind` that builds and trains it (see register_kind)
    model:     a frozen spec of the architecture (MLPSpec, CNNSpec, a kind's own spec)
    data:      a frozen description of the data (dataset, limits, normalisation, view, permutation, ...)
    train:     the training recipe (TrainConfig)
    objective: the loss or loss weighting (a frozen value; None: cross-entropy)
    seed:      the seed of initialisation and batch order
    name, keep_checkpoint, cost, steps: how it is shown, stored and estimated, not part of the key.
    """

    kind: str
    model: Any
    data: Any
    train: Any
    objective: Any = None
    seed: int = 0
    name: str = not_in_key("")
    keep_checkpoint: bool = not_in_key(False)
    cost: float = not_in_key(0.0)  # estimated training FLOPs, for plans and ETAs (0: unknown)
    steps: float = not_in_key(0.0)  # optimizer steps, whose fixed cost plans add to the FLOPs' (0: unknown)
    kind_module: str = not_in_key("")  # the module that defines the kind, for a worker that has not imported it

    def __post_init__(self) -> None:
        if not self.kind_module:
            object.__setattr__(self, "kind_module", kind_named(self.kind).module)

    def key(self) -> dict[str, Any]:
        """The canonical description, with the fingerprint of the code it runs: the cache key."""
        return {"kind": self.kind, "code": code_version(self.kind, self.model, self.data, self.train, self.objective,
                                                        module=self.kind_module),
                "model": canonical(self.model),
                "data": canonical(self.data), "train": canonical(self.train),
                "objective": canonical(self.objective), "seed": self.seed}

    @property
    def hash(self) -> str:
        return key_hash(self.key())

    @property
    def label(self) -> str:
        return self.name or f"{self.kind} {self.hash[:8]}"

    def kind_impl(self) -> SubRunKind:
        return kind_named(self.kind, self.kind_module)

    def build(self) -> nn.Module:
        """The untrained model, initialised from this sub-run's seed."""
        torch.manual_seed(self.seed)
        return self.kind_impl().build(self)


@dataclass
class Env:
    """Where a sub-run is executed: device, data folder, and whether to draw progress bars."""

    device: torch.device
    data_dir: Path | None = None
    show_progress: bool | None = None


@dataclass
class Outcome:
    """What training a sub-run yields, before it is stored: a JSON-able record (history, metrics),
    named arrays (test-set predictions, say) and, when the sub-run keeps it, the trained weights."""

    record: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    state: dict[str, torch.Tensor] | None = None


@dataclass(frozen=True)
class SubRunKind:
    """A kind of sub-run: its name (in keys, plans and the cache's listing), how it builds its model and how
    it trains it.

    train(run, model, env) trains `model` (already on env.device) in place and returns its record and
    arrays; the executor adds the checkpoint where the sub-run keeps one.

    A slow computation that is not a network (pair SVMs, t-SNE, NumPy perceptrons) is a kind too, so that
    plans list it and executors spread it: its `build` is `no_model`, its `train` computes the record and
    arrays from the sub-run's values, and `seconds` declares its wall time for `mnistlab plan`, which
    cannot count its cost in FLOPs as it does a network's.
    """

    name: str
    build: Callable[[SubRun], nn.Module]
    train: Callable[[SubRun, nn.Module, Env], tuple[dict[str, Any], dict[str, np.ndarray]]]
    # seconds(run): its wall time on the reference machine (2-core AMD EPYC, AVX512-BF16, idle), where the
    # sub-run's `cost` (FLOPs) is 0. None: estimated from its cost.
    seconds: Callable[[SubRun], float] | None = None

    @property
    def module(self) -> str:
        """The module that defines it."""
        return self.train.__module__

    def root(self) -> tuple[str, str | None]:
        """Where its code starts, for its fingerprint: the module attribute that holds it (reaching its build
        and train functions and all they call), else its train function."""
        module = importlib.import_module(self.module)
        attribute = next((name for name, value in vars(module).items() if value is self), None)
        return (self.module, attribute) if attribute else root_of(self.train)


def no_model(run: SubRun) -> nn.Module:
    """The `build` of a kind that trains no network: an empty module (no parameters, nothing to keep)."""
    return nn.Module()


def execute(run: SubRun, env: Env) -> Outcome:
    """Build and train one sub-run here and now (what every executor ends up calling)."""
    start = time.perf_counter()
    model = run.build().to(env.device)
    record, arrays = run.kind_impl().train(run, model, env)
    # The thread counts it trained with (the last bits of some reductions depend on them): recorded, so
    # that a network retrained with other counts than the one it replaces can be told apart.
    used = {epoch["threads"] for epoch in record.get("history") or [] if isinstance(epoch, dict)
            and isinstance(epoch.get("threads"), int)}
    record = {**record, "wall_seconds": time.perf_counter() - start,
              "threads": sorted(used) or [torch.get_num_threads()]}
    state = None
    if run.keep_checkpoint:
        # In the layout a loaded checkpoint has, so a first run and a cached rerun compute alike.
        model = model.to(memory_format=torch.contiguous_format)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return Outcome(record=record, arrays={k: np.asarray(v) for k, v in arrays.items()}, state=state)


@dataclass
class Trained:
    """A finished sub-run as the analysis sees it: its record, arrays, and (if kept) its weights."""

    run: SubRun
    record: dict[str, Any]
    arrays: dict[str, np.ndarray]
    checkpoint: Path | None = None
    fresh: bool = False  # trained by this invocation (not found in the cache)
    _model: nn.Module | None = None

    def __getitem__(self, name: str) -> Any:
        return self.record[name]

    def model(self, device: torch.device) -> nn.Module:
        """The trained network on `device`, in eval mode (built and loaded once, then reused)."""
        if self._model is None:
            if self.checkpoint is None:
                raise MnistlabError(f"sub-run {self.run.label} keeps no checkpoint (plan it with keep_checkpoint)")
            model = self.run.build()
            try:
                with warnings.catch_warnings():  # torch's word on a foreign pickle protocol: the line says enough
                    warnings.simplefilter("ignore")
                    state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as exc:  # checked when the cache was read; damaged since: one line, no code run
                raise MnistlabError(f"the checkpoint of {self.run.label} ({self.checkpoint}) cannot be loaded "
                                    f"({type(exc).__name__}); remove {self.checkpoint.parent} and run again to "
                                    "retrain it") from None
            self._model = model
        return self._model.to(device).eval()
