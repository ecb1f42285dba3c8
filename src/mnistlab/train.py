"""The one training engine for every neural model in the lab.

Fast because nothing is wasted: the whole dataset lives as tensors on the
device, a batch is an index slice of a per-epoch permutation (no per-sample
collation), running metrics stay on the device until the epoch ends, and
evaluation runs under `torch.inference_mode()` in large batches.

A model may return one tensor of logits or a tuple of them (one per head, for
multi-task learning); the targets are then a tuple of label tensors. The
objective turns (outputs, targets) into a scalar loss; one that needs to do
its own backward pass (PCGrad, GradNorm) defines `manual_backward(outputs, targets,
model) -> loss`, which must leave the gradients in `.grad` for the optimiser step.

What is *scored* is said by `Head`s, apart from the objective: each names the output it reads, the
target it is scored against, its metric ("acc", "mae", ...) with a per-example score, and an optional
evaluation loss. The history keys are `<split>_<metric>` for one unnamed head (`train_acc`, `test_loss`)
and `<split>_<metric>_<name>` for named ones (`test_acc_item`), with the summed loss as `<split>_loss`.

The ingredients of a modern training recipe are options of `TrainConfig`, each off by default, so a default
config trains exactly as the brief's recipe did (the same weights, bit for bit, at the same seed and threads):

  augment          random views of each training batch, on the device (mnistlab.augment: "affine" for digits,
                   "flip-shift" for clothes)
  lr_schedule      "cosine" (or "linear") decay of the learning rate to 0, after `warmup` of linear warm-up
  label_smoothing  cross-entropy against (1 - eps) one-hot + eps / classes (PyTorch's label_smoothing)
  ema              an exponential moving average of the weights, decay `ema` per step; it is what is scored
                   after each epoch and what the model holds when training ends (see `WeightAverage`)
  tta              test-time augmentation: every evaluation averages the softmax over fixed views
  holdout, select  training length chosen on validation: `holdout` holds out the last fraction of the training
                   data as validation (when no `val` is given), and select="best-val" restores the epoch whose
                   scored weights (the average's, with ema) had the best validation accuracy
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.augment import AUGMENTATIONS, TTA_VIEWS, augment_batch, tta_views
from mnistlab.constraints import Constrained, Constraints, Interval, OneOf
from mnistlab.errors import ConfigError, TrainingError
from mnistlab.execution.progress import progress
from mnistlab.execution.runtime import PRECISION, ThreadGovernor, resolve_precision, thread_governor

Targets = Tensor | tuple[Tensor, ...]
Objective = Callable[[tuple[Tensor, ...], tuple[Tensor, ...]], Tensor]
Outputs = Tensor | tuple[Tensor, ...]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
# "auto": bf16 autocast where the device computes bf16 natively, else fp32
# (mnistlab.execution.runtime.resolve_precision).
Precision = Literal["auto", "fp32", "bf16"]
LR_SCHEDULES = ("constant", "linear", "cosine")
SELECTIONS = ("last", "best-val")
# mnistlab.execution.subrun.canonical leaves such a field out of keys while it is at its default.
OMIT_DEFAULT = {"omit_default": True}
# Far above any run of the lab (the brief trains 10 epochs), yet they refuse a typo like epochs=10**12
# before it starts a training that never ends. No data set here has more than 200,000 images, so a
# larger batch is a mistake too.
MAX_EPOCHS = 1_000
MAX_BATCH = 200_000
# The rules of the training knobs, shared by every task config that sets one of them under its own name.
EPOCHS = Interval(1, MAX_EPOCHS, message=f"{{name}} must be positive and at most {MAX_EPOCHS:,}, got {{value}}")
BATCH_SIZE = Interval(1, MAX_BATCH, message=f"{{name}} must be positive and at most {MAX_BATCH:,}, got {{value}}")


@dataclass(frozen=True)
class TrainConfig(Constrained):
    """Hyperparameters of one training run. The defaults are the brief's (Adam, lr 1e-3)."""

    epochs: int = 10
    batch_size: int = 50
    lr: float = 1e-3
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop", "adagrad"] = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    eval_batch_size: int = 5000
    patience: int | None = None  # early stopping on validation loss (needs validation data)
    # Learning rate per step: "constant" (the brief's), or a decay from lr to 0 over the whole run,
    # "linear" or "cosine", after `warmup` (a fraction of all steps) of linear warm-up from 0.
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup: float = 0.0
    augment: Literal["none", "shift", "flip-shift", "affine"] = "none"  # see mnistlab.augment
    # The recipe's other ingredients (see the module docstring); each default is "off", and a sub-run's cache key
    # names one only when it is on (mnistlab.execution.subrun.canonical), so the networks cached before they
    # existed keep their keys.
    label_smoothing: float = field(default=0.0, metadata=OMIT_DEFAULT)
    ema: float = field(default=0.0, metadata=OMIT_DEFAULT)  # decay of the weights' average per step; 0: none
    tta: Literal["none", "shift", "flip"] = field(default="none", metadata=OMIT_DEFAULT)
    # The last fraction of the training data held out for validation when fit gets no val.
    holdout: float = field(default=0.0, metadata=OMIT_DEFAULT)
    select: Literal["last", "best-val"] = field(default="last", metadata=OMIT_DEFAULT)

    CONSTRAINTS: ClassVar[Constraints] = {
        "epochs": [EPOCHS],
        "batch_size": [BATCH_SIZE],
        "eval_batch_size": [BATCH_SIZE],
        "lr": [Interval(0, None, closed="neither",
                        message="{name} (the learning rate) must be a positive number, got {value}")],
        "momentum": [Interval(0, None)],
        "weight_decay": [Interval(0, None)],
        "optimizer": [OneOf(OPTIMIZERS)],
        "precision": [PRECISION],
        "patience": [Interval(1, MAX_EPOCHS, note=" (or None for no early stopping)")],
        "lr_schedule": [OneOf(LR_SCHEDULES)],
        "warmup": [Interval(0, 1, closed="left", message="{name} is a fraction of all steps in [0, 1), got {value}")],
        "augment": [OneOf(AUGMENTATIONS)],
        "label_smoothing": [Interval(0, 1, closed="left",
                                     message="{name} is a share of the target in [0, 1), got {value}")],
        "ema": [Interval(0, 1, closed="left", message="{name} is a decay per step in [0, 1), got {value}")],
        "tta": [OneOf(TTA_VIEWS)],
        "holdout": [Interval(0, 1, closed="left",
                             message="{name} is a fraction of the training data in [0, 1), got {value}")],
        "select": [OneOf(SELECTIONS)],
    }

    def lr_at(self, step: int, total_steps: int) -> float:
        """The learning rate for optimiser step `step` (0-based) of `total_steps`."""
        warm = int(self.warmup * total_steps)
        if step < warm:
            return self.lr * (step + 1) / warm
        if self.lr_schedule == "constant":
            return self.lr
        progress = (step - warm) / max(1, total_steps - warm)
        if self.lr_schedule == "linear":
            return self.lr * (1 - progress)
        return self.lr * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class FitResult:
    """Per-epoch history (train/test loss and accuracy, seconds) and totals."""

    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    stopped_early: bool = False
    best_epoch: int | None = None
    # Threads each epoch ended with (the adaptive policy may change them; see runtime.ThreadGovernor).
    threads: list[int] = field(default_factory=list)

    # The epoch whose weights the model holds after select="best-val" (None: the last one trained).
    selected_epoch: int | None = None

    def final(self) -> dict[str, float]:
        """The record of the epoch whose weights the model ends with: the selected one, else the last."""
        if self.selected_epoch is not None:
            return self.history[self.selected_epoch - 1]
        return self.history[-1] if self.history else {}


def as_tuple(value: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (value,) if isinstance(value, Tensor) else tuple(value)


def correct_scores(output: Tensor, target: Tensor) -> Tensor:
    """1 where the largest logit is the target class, else 0: averaged, the accuracy."""
    return (output.argmax(1) == target).float()


def cross_entropy_loss(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(output.float(), target)


@dataclass(frozen=True)
class Head:
    """One scored answer of a model: what the history records about it, apart from the training objective.

    name:   '' for the one head of a single-head model (keys `test_acc`), else a word (keys `test_acc_item`)
    output: which of the model's outputs it reads; None: all of them, for a reading decoded from several
    target: which target tensor it is scored against
    metric: the score's name in the history ("acc" for a classifier, "mae" for a mean error)
    score:  (output(s), target) -> a score per example, averaged over the data
    loss:   (output(s), target) -> the evaluation loss, recorded as `<split>_loss[_<name>]`; None: none
    """

    name: str = ""
    output: int | None = 0
    target: int = 0
    metric: str = "acc"
    score: Callable[[Outputs, Tensor], Tensor] = correct_scores
    loss: Callable[[Outputs, Tensor], Tensor] | None = cross_entropy_loss

    def reads(self, outputs: tuple[Tensor, ...]) -> Outputs:
        return outputs if self.output is None else outputs[self.output]

    def key(self, metric: str) -> str:
        return f"{metric}_{self.name}" if self.name else metric


def classifier_heads(names: Sequence[str]) -> tuple[Head, ...]:
    """One classifier head per output, output i scored against target i: ('item', 'group') for Task 6."""
    return tuple(Head(name, output=i, target=i) for i, name in enumerate(names))


def default_heads(n_targets: int) -> tuple[Head, ...]:
    """One unnamed classifier head for one target; numbered ones ('0', '1', ...) for several."""
    return classifier_heads([""] if n_targets == 1 else [str(i) for i in range(n_targets)])


def check_heads(heads: Sequence[Head], n_targets: int) -> None:
    """Refuse heads whose history keys would collide or that score a target the data lacks."""
    names = [h.name for h in heads]
    if not heads or len(set(names)) != len(names) or ("" in names and len(heads) > 1):
        raise ConfigError(f"heads need distinct names, and only a lone head may be unnamed; got {names}")
    missing = [h.name or "(unnamed)" for h in heads if not 0 <= h.target < n_targets]
    if missing:
        raise ConfigError(f"head {missing[0]} is scored against a target the data lacks ({n_targets} target(s))")


def cross_entropy_objective(outputs: tuple[Tensor, ...], targets: tuple[Tensor, ...]) -> Tensor:
    """Softmax + cross-entropy on each head, summed. F.cross_entropy takes logits (log-softmax inside),
    which is the brief's softmax layer followed by cross-entropy, computed stably."""
    return sum(cross_entropy_loss(o, t) for o, t in zip(outputs, targets, strict=True))


@dataclass(frozen=True)
class SmoothedCrossEntropy:
    """`cross_entropy_objective` with label smoothing `eps` on every head: the target is (1 - eps) on the
    true class plus eps / classes on each class, as nn.CrossEntropyLoss(label_smoothing=eps) defines it."""

    eps: float

    def __call__(self, outputs: tuple[Tensor, ...], targets: tuple[Tensor, ...]) -> Tensor:
        return sum(F.cross_entropy(o.float(), t, label_smoothing=self.eps)
                   for o, t in zip(outputs, targets, strict=True))


def with_label_smoothing(objective: Objective | nn.Module, eps: float) -> Objective | nn.Module:
    """`objective` with label smoothing `eps`: the plain cross-entropy becomes `SmoothedCrossEntropy`; an
    objective with a `label_smoothing` attribute (the multi-task weightings) gets it set. Another objective
    (an MSE loss, say) has no smoothing to set, and is refused rather than silently trained without it."""
    if eps == 0:
        return objective
    if objective is cross_entropy_objective:
        return SmoothedCrossEntropy(eps)
    if hasattr(objective, "label_smoothing"):
        objective.label_smoothing = eps
        return objective
    raise ConfigError(f"label_smoothing={eps} needs the cross-entropy objective (or one with a label_smoothing "
                      f"attribute); {type(objective).__name__} has none")


class WeightAverage:
    """An exponential moving average of a model's weights, kept beside it and swapped in to be scored.

    After each optimiser step, `update` does what torch.optim.swa_utils.AveragedModel does with
    get_ema_multi_avg_fn(decay) and use_buffers=True: the first update copies the weights, every later one moves
    the average (1 - decay) of the way to them. Floating-point buffers (batch norm's running statistics) are
    averaged with the weights, as use_buffers=True does, so the average model's statistics match its weights;
    integer buffers (num_batches_tracked) are copied. The brief's networks have no buffers at all.

    `swapped()` is a context in which the model holds the average (for evaluation); `copy_to` leaves it there.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.model, self.decay = model, decay
        self.tensors = [t for t in (*model.parameters(), *model.buffers())]
        self.floating = [t for t in self.tensors if t.is_floating_point()]
        self.average: list[Tensor] | None = None
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        if self.average is None:
            self.average = [t.detach().clone() for t in self.floating]
        else:
            torch._foreach_lerp_(self.average, [t.detach() for t in self.floating], 1 - self.decay)
        self.updates += 1

    @torch.no_grad()
    def copy_to(self) -> None:
        """Overwrite the model's floating weights and buffers with their average."""
        if self.average is not None:
            for live, avg in zip(self.floating, self.average, strict=True):
                live.copy_(avg)

    def swapped(self):
        """A context in which the model holds the average; its own weights come back afterwards."""
        return _Swapped(self)


class _Swapped:
    def __init__(self, ema: WeightAverage):
        self.ema, self.saved = ema, None

    def __enter__(self):
        if self.ema.average is not None:
            self.saved = [t.detach().clone() for t in self.ema.floating]
            self.ema.copy_to()
        return self.ema.model

    def __exit__(self, *exc):
        if self.saved is not None:
            with torch.no_grad():
                for live, saved in zip(self.ema.floating, self.saved, strict=True):
                    live.copy_(saved)
        return False


def make_optimizer(params, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """The optimiser, fused where PyTorch has a fused kernel for the device (Adam's step on a
    26 M-parameter network: ~150 ms as a for-loop, ~20 ms fused, on this CPU)."""
    params = [p for p in params if p.requires_grad]
    wd = cfg.weight_decay
    if cfg.optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        try:
            return cls(params, lr=cfg.lr, weight_decay=wd, fused=True)
        except (RuntimeError, TypeError):
            return cls(params, lr=cfg.lr, weight_decay=wd, foreach=True)
    if cfg.optimizer == "sgd":
        try:
            return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd, fused=True)
        except (RuntimeError, TypeError):
            return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=wd)


def precision_words(precision: str) -> str:
    """How the report names a (resolved) precision."""
    return {"bf16": "bf16 autocast", "fp32": "fp32"}.get(precision, precision)


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast (AVX512-BF16 or AMX on a CPU, tensor cores on a GPU), or nothing for fp32."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def _prepare_input(x: Tensor, cfg: TrainConfig) -> Tensor:
    if cfg.channels_last and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


@torch.inference_mode()
def predict_logits(model: nn.Module, x: Tensor, *, batch_size: int = 5000, precision: str = "fp32",
                   channels_last: bool = False, tta: str = "none") -> tuple[Tensor, ...]:
    """The model's outputs (one tensor per head, float32) for all of x, in large batches.

    With test-time augmentation (`tta`, see mnistlab.augment.tta_views) each output is the log of the softmax
    averaged over the views: log-probabilities, which argmax and cross-entropy read like logits."""
    was_training = model.training
    model.eval()
    device = x.device
    chunks: list[tuple[Tensor, ...]] = []
    for start in range(0, len(x), batch_size):
        views = tta_views(x[start:start + batch_size], tta)
        outs = []
        for xb in views:
            if channels_last and xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                outs.append(tuple(o.float() for o in as_tuple(model(xb))))
        if len(views) == 1:
            chunks.append(outs[0])
        else:
            chunks.append(tuple(torch.stack([o.softmax(1) for o in head]).mean(0).log()
                                for head in zip(*outs, strict=True)))
    model.train(was_training)
    return tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))


def evaluate(model: nn.Module, x: Tensor, y: Targets, *, batch_size: int = 5000, precision: str = "fp32",
             channels_last: bool = False, heads: Sequence[Head] | None = None, tta: str = "none") -> dict[str, float]:
    """Each head's metric and evaluation loss on all of x: {'acc', 'loss'} for one unnamed classifier head,
    {'acc_item', 'loss_item', ..., 'loss'} for named heads ('loss': the sum of their losses)."""
    targets = as_tuple(y)
    heads = default_heads(len(targets)) if heads is None else heads
    check_heads(heads, len(targets))
    outputs = predict_logits(model, x, batch_size=batch_size, precision=precision,
                             channels_last=channels_last, tta=tta)
    metrics: dict[str, float] = {}
    losses = []
    for head in heads:
        read, target = head.reads(outputs), targets[head.target]
        if head.loss is not None:
            losses.append(head.loss(read, target))
            metrics[head.key("loss")] = losses[-1].item()
        metrics[head.key(head.metric)] = head.score(read, target).float().mean().item()
    if losses and "loss" not in metrics:  # named heads: their summed loss, which early stopping watches
        metrics["loss"] = torch.stack(losses).sum().item()
    return metrics


def inference_rate(model: nn.Module, x: Tensor, *, batch_size: int = 5000, precision: str = "fp32",
                   channels_last: bool = False, repeats: int = 3, tta: str = "none") -> float:
    """Images per second of `predict_logits` over all of x: the best of `repeats` passes (a shared
    machine makes single timings noisy, and the best one is closest to what the hardware can do)."""
    best = math.inf
    for _ in range(max(1, repeats)):
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        start = time.perf_counter()
        predict_logits(model, x, batch_size=batch_size, precision=precision, channels_last=channels_last, tta=tta)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def _check_finite(value: float, epoch: int, step: int) -> None:
    if not math.isfinite(value):
        raise TrainingError(
            f"loss became {value} at epoch {epoch}, step {step}: training diverged "
            "(try a smaller learning rate, or precision=fp32)"
        )


@dataclass
class _Trainer:
    """One training run's fixed parts: what each epoch steps, scores and times."""

    model: nn.Module
    objective: Objective | nn.Module
    optimizer: torch.optim.Optimizer
    cfg: TrainConfig
    heads: tuple[Head, ...]
    generator: torch.Generator
    steps_per_epoch: int
    governor: ThreadGovernor | None = None
    average: WeightAverage | None = None  # the weights' moving average, when cfg.ema > 0

    def __post_init__(self) -> None:
        self.step_model = torch.compile(self.model) if self.cfg.compile else self.model
        self.custom_backward = getattr(self.objective, "manual_backward", None)

    def epoch(self, epoch: int, x_train: Tensor, y_train: tuple[Tensor, ...],
              bar: Iterable[int]) -> tuple[float, list[float]]:
        """Train one epoch over a fresh shuffle; (mean training loss, each head's mean training score).

        The sums stay on the device until the epoch ends: a `.item()` per step would wait for every step."""
        cfg, device, n = self.cfg, x_train.device, len(x_train)
        scheduled = cfg.lr_schedule != "constant" or cfg.warmup > 0
        loss_sum = torch.zeros((), device=device)
        scores = torch.zeros(len(self.heads), device=device)
        order = torch.randperm(n, device=device, generator=self.generator)
        # One gather per epoch, then each batch is a contiguous view: no per-step index copy.
        x_epoch, y_epoch = x_train[order], tuple(t[order] for t in y_train)
        self.model.train()
        for step in bar:
            if self.governor is not None:
                self.governor.poll()
            batch = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            xb = x_epoch[batch]
            if cfg.augment != "none":
                xb = augment_batch(xb, cfg.augment, self.generator)
            xb = _prepare_input(xb, cfg)
            yb = tuple(t[batch] for t in y_epoch)
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(device, cfg.precision):
                outputs = as_tuple(self.step_model(xb))
            if self.custom_backward is not None:
                loss = self.custom_backward(outputs, yb, self.model)
            else:
                loss = self.objective(outputs, yb)
                loss.backward()
            if scheduled:
                lr = cfg.lr_at((epoch - 1) * self.steps_per_epoch + step, cfg.epochs * self.steps_per_epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
            self.optimizer.step()
            if self.average is not None:
                self.average.update()
            with torch.no_grad():
                loss_sum += loss.detach().float() * len(xb)
                detached = tuple(o.detach() for o in outputs)
                for h, head in enumerate(self.heads):
                    scores[h] += head.score(head.reads(detached), yb[head.target]).float().sum()
            if step % 200 == 199:
                _check_finite(loss.item(), epoch, step + 1)
        return loss_sum.item() / n, (scores / n).tolist()


def fit(
    model: nn.Module,
    train: tuple[Tensor, Targets],
    test: tuple[Tensor, Targets] | None = None,
    cfg: TrainConfig = TrainConfig(),
    *,
    seed: int = 0,
    objective: Objective | nn.Module = cross_entropy_objective,
    val: tuple[Tensor, Targets] | None = None,
    desc: str = "train",
    show_progress: bool | None = None,
    heads: Sequence[Head] | None = None,
    select_heads: Sequence[str] | None = None,
) -> FitResult:
    """Train `model` in place on tensors already on its device; score each head on the training data as it
    trains and on `test` and `val` after each epoch (default heads: `default_heads`).

    Deterministic for a given seed on the CPU: the shuffle uses its own generator.
    With cfg.holdout and no `val`, the last `holdout` of `train` is the validation data (never trained on).
    With select="best-val", `select_heads` names the heads whose mean validation accuracy picks the epoch
    (default: every classifier head; a multi-task network trained on one task names that task's head).
    """
    x_train, y_train = train[0], as_tuple(train[1])
    if cfg.holdout > 0 and val is None:
        (x_train, y_train), val = holdout_split(x_train, y_train, cfg.holdout)
    heads = default_heads(len(y_train)) if heads is None else tuple(heads)
    _check_fit(cfg, heads, len(y_train), val is not None)
    objective = with_label_smoothing(objective, cfg.label_smoothing)
    device = x_train.device
    trainer = _start(model, objective, cfg, heads, math.ceil(len(x_train) / cfg.batch_size), device, seed)
    eval_kw = {"batch_size": cfg.eval_batch_size, "precision": cfg.precision,
               "channels_last": cfg.channels_last, "heads": heads, "tta": cfg.tta}
    result = FitResult()
    stopper = _EarlyStopping(cfg.patience)
    selector = _BestOnValidation() if cfg.select == "best-val" else None
    if trainer.governor is not None:
        trainer.governor.start()
    for epoch in range(1, cfg.epochs + 1):
        _synchronize(device)
        start = time.perf_counter()
        bar = progress(range(trainer.steps_per_epoch), desc=f"{desc} {epoch}/{cfg.epochs}", enabled=show_progress)
        train_loss, train_scores = trainer.epoch(epoch, x_train, y_train, bar)
        _synchronize(device)
        seconds = time.perf_counter() - start
        result.train_seconds += seconds
        result.threads.append(torch.get_num_threads())
        _check_finite(train_loss, epoch, trainer.steps_per_epoch)
        # The thread count at the epoch's end, kept with its time: the governor may change it with the load,
        # and with it the last bits of the sums (bit-for-bit reruns need a fixed $MNISTLAB_THREADS).
        record: dict[str, float] = {"epoch": epoch, "seconds": seconds, "threads": torch.get_num_threads(),
                                    "train_loss": train_loss}
        record.update({f"train_{head.key(head.metric)}": s for head, s in zip(heads, train_scores, strict=True)})
        # With an average of the weights, the average is what is scored (and what training ends with).
        with trainer.average.swapped() if trainer.average is not None else nullcontext():
            for split, data in (("test", test), ("val", val)):
                if data is not None:
                    record.update({f"{split}_{k}": v
                                   for k, v in evaluate(model, data[0], data[1], **eval_kw).items()})
            if selector is not None:
                selector.offer(_validation_accuracy(record, heads, select_heads), epoch, model)
            stop = stopper.enabled and stopper.stop(record["val_loss"], epoch, model)
        result.history.append(record)
        if stop:
            result.stopped_early = True
            break
    if trainer.average is not None:
        trainer.average.copy_to()
    result.best_epoch = stopper.best_epoch
    stopper.restore(model)
    if selector is not None:
        selector.restore(model)
        result.selected_epoch = selector.best_epoch
    model.eval()
    return result


def holdout_split(x: Tensor, y: tuple[Tensor, ...], fraction: float
                  ) -> tuple[tuple[Tensor, tuple[Tensor, ...]], tuple[Tensor, tuple[Tensor, ...]]]:
    """((x, y) of the first 1 - fraction, (x, y) of the last `fraction`): the hyperparameter studies' split,
    the validation images being the last of the training set, which no network trains on."""
    n_val = round(len(x) * fraction)
    if not 1 <= n_val < len(x):
        raise ConfigError(f"holdout {fraction} of {len(x):,} training images leaves {len(x) - n_val:,} for training "
                          f"and {n_val:,} for validation; both must be at least 1")
    cut = len(x) - n_val
    return (x[:cut], tuple(t[:cut] for t in y)), (x[cut:], tuple(t[cut:] for t in y))


def _validation_accuracy(record: dict[str, float], heads: tuple[Head, ...],
                         names: Sequence[str] | None = None) -> float:
    """What select="best-val" maximises: the mean validation accuracy of the classifier heads (those named)."""
    keys = [f"val_{h.key('acc')}" for h in heads if h.metric == "acc" and (names is None or h.name in names)]
    if not keys:
        raise ConfigError(f"select_heads {list(names or [])} names no classifier head of {[h.name for h in heads]}")
    return sum(record[k] for k in keys) / len(keys)


class _BestWeights:
    """A copy of the model's weights at its best epoch so far, restored when training ends."""

    def __init__(self) -> None:
        self.best_epoch: int | None = None
        self.best_state: dict[str, Tensor] | None = None

    def keep(self, epoch: int, model: nn.Module) -> None:
        self.best_epoch = epoch
        self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def restore(self, model: nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


class _BestOnValidation(_BestWeights):
    """Keep the weights of the epoch with the best validation accuracy (the first such epoch on a tie)."""

    def __init__(self) -> None:
        super().__init__()
        self.best = -math.inf

    def offer(self, accuracy: float, epoch: int, model: nn.Module) -> None:
        if accuracy > self.best:
            self.best = accuracy
            self.keep(epoch, model)


def _check_fit(cfg: TrainConfig, heads: tuple[Head, ...], n_targets: int, has_val: bool) -> None:
    """Refuse, before any training, a run that could not finish or record what it scores."""
    cfg.validate()
    check_heads(heads, n_targets)
    if cfg.patience is not None and not has_val:
        raise ConfigError("early stopping (patience) needs validation data")
    if cfg.patience is not None and all(h.loss is None for h in heads):
        raise ConfigError("early stopping (patience) watches the validation loss, and no head has a loss")
    if cfg.select == "best-val" and not has_val:
        raise ConfigError('select="best-val" needs validation data (give val, or a holdout fraction)')
    if cfg.select == "best-val" and not any(h.metric == "acc" for h in heads):
        raise ConfigError('select="best-val" picks the best validation accuracy, and no head is a classifier')
    if cfg.select == "best-val" and cfg.patience is not None:
        raise ConfigError('choose one way to pick the epoch: select="best-val" or early stopping (patience)')


def _start(model: nn.Module, objective: Objective | nn.Module, cfg: TrainConfig, heads: tuple[Head, ...],
           steps_per_epoch: int, device: torch.device, seed: int) -> _Trainer:
    """Seed, lay out and equip `model` for training: its optimiser (with the objective's own parameters, if
    any), the shuffle's generator and, on the CPU, the thread governor."""
    torch.manual_seed(seed)  # dropout and other in-model randomness
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    params = list(model.parameters())
    if isinstance(objective, nn.Module):
        params += list(objective.parameters())
    return _Trainer(model, objective, make_optimizer(params, cfg, device), cfg, heads,
                    torch.Generator(device=device).manual_seed(seed), steps_per_epoch,
                    thread_governor() if device.type == "cpu" else None,
                    WeightAverage(model, cfg.ema) if cfg.ema > 0 else None)


def _synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so that a timing covers it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _EarlyStopping(_BestWeights):
    """Stop once the validation loss has not improved for `patience` epochs; keep the best epoch's weights."""

    def __init__(self, patience: int | None):
        super().__init__()
        self.patience = patience
        self.best_loss, self.bad_epochs = math.inf, 0

    @property
    def enabled(self) -> bool:
        return self.patience is not None

    def stop(self, val_loss: float, epoch: int, model: nn.Module) -> bool:
        if val_loss < self.best_loss - 1e-6:
            self.best_loss, self.bad_epochs = val_loss, 0
            self.keep(epoch, model)
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

