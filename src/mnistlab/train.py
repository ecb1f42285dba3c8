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
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.augment import AUGMENTATIONS, augment_batch
from mnistlab.constraints import Constrained, Constraints, Interval, OneOf
from mnistlab.errors import ConfigError, TrainingError
from mnistlab.progress import progress
from mnistlab.runtime import PRECISION, resolve_precision, thread_governor

Targets = Tensor | tuple[Tensor, ...]
Objective = Callable[[tuple[Tensor, ...], tuple[Tensor, ...]], Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
# "auto": bf16 autocast where the device computes bf16 natively, else fp32 (mnistlab.runtime.resolve_precision).
Precision = Literal["auto", "fp32", "bf16"]
LR_SCHEDULES = ("constant", "linear", "cosine")
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
    augment: Literal["none", "shift", "flip-shift"] = "none"  # see mnistlab.augment

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

    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def as_tuple(value: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (value,) if isinstance(value, Tensor) else tuple(value)


def cross_entropy_objective(outputs: tuple[Tensor, ...], targets: tuple[Tensor, ...]) -> Tensor:
    """Softmax + cross-entropy on each head, summed. F.cross_entropy takes logits (log-softmax inside),
    which is the brief's softmax layer followed by cross-entropy, computed stably."""
    return sum(F.cross_entropy(o.float(), t) for o, t in zip(outputs, targets, strict=True))


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
                   channels_last: bool = False) -> tuple[Tensor, ...]:
    """The model's outputs (one tensor per head, float32) for all of x, in large batches."""
    was_training = model.training
    model.eval()
    device = x.device
    chunks: list[tuple[Tensor, ...]] = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            chunks.append(tuple(o.float() for o in as_tuple(model(xb))))
    model.train(was_training)
    return tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))


def evaluate(model: nn.Module, x: Tensor, y: Targets, *, batch_size: int = 5000, precision: str = "fp32",
             channels_last: bool = False) -> dict[str, float]:
    """Cross-entropy loss and accuracy per head: {'loss', 'acc'} for one head, '..._<i>' for several."""
    outputs = predict_logits(model, x, batch_size=batch_size, precision=precision,
                             channels_last=channels_last)
    targets = as_tuple(y)
    metrics: dict[str, float] = {}
    for i, (o, t) in enumerate(zip(outputs, targets, strict=True)):
        suffix = "" if len(outputs) == 1 else f"_{i}"
        metrics[f"loss{suffix}"] = F.cross_entropy(o, t).item()
        metrics[f"acc{suffix}"] = (o.argmax(1) == t).float().mean().item()
    return metrics


def inference_rate(model: nn.Module, x: Tensor, *, batch_size: int = 5000, precision: str = "fp32",
                   channels_last: bool = False, repeats: int = 3) -> float:
    """Images per second of `predict_logits` over all of x: the best of `repeats` passes (a shared
    machine makes single timings noisy, and the best one is closest to what the hardware can do)."""
    best = math.inf
    for _ in range(max(1, repeats)):
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        start = time.perf_counter()
        predict_logits(model, x, batch_size=batch_size, precision=precision, channels_last=channels_last)
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
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train `model` in place on tensors already on its device; evaluate on `test` after each epoch.

    Deterministic for a given seed on the CPU: the shuffle uses its own generator.
    """
    cfg.validate()
    if cfg.patience is not None and val is None:
        raise ConfigError("early stopping (patience) needs validation data")
    x_train, y_train = train[0], as_tuple(train[1])
    device = x_train.device
    n = len(x_train)
    torch.manual_seed(seed)  # dropout and other in-model randomness
    generator = torch.Generator(device=device).manual_seed(seed)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    params = list(model.parameters())
    if isinstance(objective, nn.Module):
        params += list(objective.parameters())
    optimizer = make_optimizer(params, cfg, device)
    step_model = torch.compile(model) if cfg.compile else model
    custom_backward = getattr(objective, "manual_backward", None)
    eval_kw = {"batch_size": cfg.eval_batch_size, "precision": cfg.precision,
               "channels_last": cfg.channels_last}

    result = FitResult()
    best_val, best_state, bad_epochs = math.inf, None, 0
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    scheduled = cfg.lr_schedule != "constant" or cfg.warmup > 0
    governor = thread_governor() if device.type == "cpu" else None
    if governor is not None:
        governor.start()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros(len(y_train), device=device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(n, device=device, generator=generator)
        # One gather per epoch, then each batch is a contiguous view: no per-step index copy.
        x_epoch, y_epoch = x_train[order], tuple(t[order] for t in y_train)
        bar = progress(range(steps_per_epoch), desc=f"{desc} {epoch}/{cfg.epochs}", enabled=show_progress)
        for step in bar:
            if governor is not None:
                governor.poll()
            batch = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            xb = x_epoch[batch]
            if cfg.augment != "none":
                xb = augment_batch(xb, cfg.augment, generator)
            xb = _prepare_input(xb, cfg)
            yb = tuple(t[batch] for t in y_epoch)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, cfg.precision):
                outputs = as_tuple(step_model(xb))
            if custom_backward is not None:
                loss = custom_backward(outputs, yb, model)
            else:
                loss = objective(outputs, yb)
                loss.backward()
            if scheduled:
                lr = cfg.lr_at((epoch - 1) * steps_per_epoch + step, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
            optimizer.step()
            with torch.no_grad():
                loss_sum += loss.detach().float() * len(xb)
                for h, (o, t) in enumerate(zip(outputs, yb, strict=True)):
                    correct[h] += (o.detach().argmax(1) == t).sum()
            if step % 200 == 199:
                _check_finite(loss.item(), epoch, step + 1)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        result.train_seconds += seconds
        result.threads.append(torch.get_num_threads())
        train_loss = loss_sum.item() / n
        _check_finite(train_loss, epoch, steps_per_epoch)
        # The thread count at the epoch's end, kept with its time: the governor may change it with the load,
        # and with it the last bits of the sums (bit-for-bit reruns need a fixed $MNISTLAB_THREADS).
        record: dict[str, float] = {"epoch": epoch, "seconds": seconds, "threads": torch.get_num_threads(),
                                    "train_loss": train_loss}
        accs = (correct / n).tolist()
        _add_heads(record, "train_acc", accs)
        if test is not None:
            for key, value in evaluate(model, test[0], test[1], **eval_kw).items():
                record[f"test_{key}"] = value
        if val is not None:
            for key, value in evaluate(model, val[0], val[1], **eval_kw).items():
                record[f"val_{key}"] = value
        result.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if cfg.patience is not None:
            if record["val_loss"] < best_val - 1e-6:
                best_val, bad_epochs, result.best_epoch = record["val_loss"], 0, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs >= cfg.patience:
                    result.stopped_early = True
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result


def _add_heads(record: dict[str, float], name: str, values: list[float]) -> None:
    if len(values) == 1:
        record[name] = values[0]
    else:
        for i, v in enumerate(values):
            record[f"{name}_{i}"] = v
        record[name] = values[0]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

