"""Progress bars that stay quiet when output is not a terminal (CI, logs, notebooks' captured output)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             leave: bool = False, enabled: bool | None = None) -> tqdm:
    """A tqdm bar on stderr; `enabled=None` shows it only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=not enabled,
                dynamic_ncols=True, file=sys.stderr)
