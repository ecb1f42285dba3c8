"""Per-epoch training logs in the formats PyTorch and Keras users reach for: CSV files and TensorBoard events.

A history is what `mnistlab.train.fit` records: one dict per epoch with `epoch`, `seconds`,
`train_loss`, and `<split>_<metric>` for each scored head (`train_acc`, `test_loss`, `test_acc`, or the
clock's `train_mae`, `test_mae`), `<split>_<metric>_<head>` for named heads (`test_acc_item`,
`test_loss_group`), `val_*` when a validation split is held out, and `lr` when it is recorded. Nothing
here trains or decides anything: the runner calls `write_histories` with every trained network's history
once the task has run.

    OUT/<task>/history/<network>.csv                    always
    DIR/<task>/<network>/events.out.tfevents.*          with `mnistlab run --tensorboard DIR`
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mnistlab.errors import ConfigError
from mnistlab.execution.atomic import check_write_target
from mnistlab.execution.store import atomic_write_text

__all__ = ["csv_columns", "require_tensorboard", "safe_name", "scalar_tag", "write_histories",
           "write_history_csv", "write_tensorboard"]

History = Sequence[Mapping[str, Any]]

# The columns a reader looks for first, in this order; every other key follows, sorted.
_LEADING = ("epoch", "seconds", "lr")
_SPLITS = ("train", "val", "test")


def safe_name(network: str) -> str:
    """A file-system-safe form of a network's name: 'MLP 1000-1000' -> 'MLP_1000-1000'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", network).strip("._")
    if not name:
        raise ValueError(f"network name {network!r} has no usable characters for a file name")
    return name


def csv_columns(history: History) -> list[str]:
    """Every key of the history, leading columns first, then train, val and test columns, then the rest."""
    keys: set[str] = set().union(*(row.keys() for row in history)) if history else set()
    lead = [k for k in _LEADING if k in keys]
    by_split = [sorted(k for k in keys if k.startswith(f"{split}_")) for split in _SPLITS]
    placed = set(lead).union(*by_split)
    return lead + [k for group in by_split for k in group] + sorted(keys - placed)


def _cell(value: Any) -> Any:
    # NaN/inf and missing values are written as empty cells, which csv readers and pandas read as missing.
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return repr(value)  # full precision, round-trips through float()
    return value


def write_history_csv(path: Path, history: History) -> Path:
    """Write one network's per-epoch history as a CSV file (one row per epoch, a header row first)."""
    columns = csv_columns(history)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in history:
        writer.writerow([_cell(row.get(column)) for column in columns])
    atomic_write_text(Path(path), buffer.getvalue())
    return Path(path)


def scalar_tag(key: str) -> str | None:
    """The TensorBoard tag of a history key, or None for keys that are not a per-epoch scalar.

    'train_loss' -> 'loss/train' and 'test_acc_item' -> 'acc_item/test', so that TensorBoard draws the train,
    validation and test curves of one quantity on one chart (it groups by the part before the '/').
    """
    if key == "epoch":
        return None
    for split in _SPLITS:
        if key.startswith(f"{split}_"):
            return f"{key[len(split) + 1:]}/{split}"
    return "seconds_per_epoch" if key == "seconds" else key


def require_tensorboard() -> None:
    """Raise a one-line ConfigError when the optional `tensorboard` package is missing (checked before training)."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'mnistlab[tensorboard]'") from None


def write_tensorboard(logdir: Path, run_name: str, history: History) -> Path:
    """Write one network's history as TensorBoard scalars under logdir/run_name (step = epoch).

    A rerun replaces that run's event files, so TensorBoard does not show the same epochs twice.
    """
    require_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    run_dir = Path(logdir) / run_name
    for folder in (run_dir.parent, run_dir):  # written into only when it is a folder of its own, not a link
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise ConfigError(f"--tensorboard: {folder} is a link or a file, not a folder; move it away")
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in run_dir.glob("events.out.tfevents.*"):
        check_write_target(old)
        old.unlink()
    writer = SummaryWriter(log_dir=str(run_dir))
    try:
        for index, row in enumerate(history, 1):
            step = int(row.get("epoch", index))
            for key, value in row.items():
                tag = scalar_tag(key)
                if tag is None or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if math.isfinite(value):
                    writer.add_scalar(tag, float(value), global_step=step)
    finally:
        writer.close()
    return run_dir


def write_histories(task_dir: Path, networks: Mapping[str, History],
                    tensorboard_dir: Path | None = None) -> list[Path]:
    """Write every network's history as task_dir/history/<network>.csv, and as TensorBoard events under
    tensorboard_dir/<task>/<network> when tensorboard_dir is given (<task> is task_dir's name).

    `networks` maps a network's display name ('MLP 1000-1000', 'lambda 0.5') to its history. Returns the
    CSV files and TensorBoard run folders written.
    """
    task_dir = Path(task_dir)
    names: dict[str, str] = {}
    for network in networks:
        name = safe_name(network)
        if name in names:
            raise ValueError(f"networks {names[name]!r} and {network!r} would share the log name {name!r}")
        names[name] = network
    written: list[Path] = []
    for name, network in names.items():
        history = networks[network]
        written.append(write_history_csv(task_dir / "history" / f"{name}.csv", history))
        if tensorboard_dir is not None:
            written.append(write_tensorboard(Path(tensorboard_dir) / task_dir.name, name, history))
    return written
