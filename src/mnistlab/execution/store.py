"""Results on disk: OUT/<task>/result.json and a cache of finished sub-runs.

Everything is written atomically (a temporary file in the same folder, then
`os.replace`), so an interrupted run never leaves a half-written file, and a
rerun finds exactly the sub-runs that had finished.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.execution.atomic import NotARegularFile, atomic_file, read_regular

# Part of every stored result's run key (with the package version); sub-runs' keys carry the fingerprint
# of their code instead (mnistlab.execution.subrun.code_version).
# 2: the discussion is stored as "paragraphs" by id, each with the finding it states.
RESULTS_VERSION = 2


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, paths and NumPy/torch scalars as plain JSON values (NaN/inf as null)."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # NumPy or torch arrays and scalars
        return to_jsonable(value.tolist())
    return str(value)


def _hashable(value: Any) -> Any:
    """`to_jsonable`, except that NaN and the infinities keep distinct forms: as null they would all
    share one hash, and a run with lr=inf would be taken for the stored run with lr=nan."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"non-finite float": repr(value)}
    if is_dataclass(value) and not isinstance(value, type):
        return _hashable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _hashable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_hashable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, bool | int | float | str):
        return _hashable(value.tolist())
    return to_jsonable(value)


def config_hash(config: Any) -> str:
    """A short, stable hash of a JSON-able description (key order does not matter)."""
    text = json.dumps({"v": RESULTS_VERSION, "c": _hashable(config)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_file(path, "w") as f:
        f.write(text)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (the lab never writes one)")


def read_json(path: Path, within: Path | None = None) -> Any:
    """The parsed JSON file at `path`: a regular file (inside `within`, if given; see
    `atomic.open_regular`), without the non-standard NaN and Infinity (ValueError)."""
    return json.loads(read_regular(path, within).decode("utf-8"), parse_constant=_no_constant)


DIGEST = "digest"


def content_digest(data: dict) -> str:
    """SHA-256 of a stored JSON object's content, its own `digest` field left out: written into
    record.json and result.json, so that an edited number (a test accuracy set to 1e308) is found."""
    body = {k: v for k, v in data.items() if k != DIGEST}
    text = json.dumps(to_jsonable(body), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def with_digest(data: dict) -> dict:
    """`data` (made JSON-able) with its content digest added."""
    body = to_jsonable({k: v for k, v in data.items() if k != DIGEST})
    return {**body, DIGEST: content_digest(body)}


# Any number a record or result holds beyond this is damage, not a measurement: float32, in which every
# network trains, ends at 3.4e38, and no count or time of a run comes near.
ABSURD = 1e38


def absurd_number(value: Any, where: str = "", depth: int = 0) -> str | None:
    """Where in `value` a number is non-finite or absurdly large (or the nesting absurdly deep), or None."""
    if depth > 64:
        return f"{where or 'value'} is nested more than 64 levels deep"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{where or 'a number'} is {value}"
        if abs(value) > ABSURD:
            size = f"{value:.3g}" if isinstance(value, float) else f"about 10**{int(value.bit_length() * 0.30103)}"
            return f"{where or 'a number'} is {size}, beyond any real measurement"
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        problem = absurd_number(item, f"{where}.{key}" if where else str(key), depth + 1)
        if problem is not None:
            return problem
    return None


def check_writable(folder: Path) -> None:
    """Fail early, with one line, if results cannot be written to `folder`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise MnistlabError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None


_REQUIRED_RESULT_FIELDS = ("task", "profile", "seed", "seconds")
_RESULT_FIELDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "task": (str, "a task name"),
    "profile": (str, "a profile name"),
    "seed": (int, "an integer"),
    "run_key": (str, "a string"),
    "seconds": ((int, float), "a number"),
    "config": (dict, "an object"),
    "environment": (dict, "an object"),
    "metrics": (dict, "an object of numbers"),
    "tables": (dict, "an object of tables"),
    "figures": (list, "a list of figures"),
    "paragraphs": (list, "a list of paragraphs"),
    "key_table": (str, "a table id"),
    "key_figure": (str, "a figure name"),
    "references": (list, "a list of references"),
    "seeds": (list, "a list of seeds"),
    "per_seed_metrics": (dict, "an object"),
    "sub_runs": (list, "a list of sub-runs"),
    "cache": (dict, "an object"),
}


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _result_problem(data: Any) -> str | None:
    """What is wrong with a parsed result.json, or None when report and rerun can use it."""
    if not isinstance(data, dict):
        return f"expected an object, found {type(data).__name__}"
    for key, (kind, what) in _RESULT_FIELDS.items():
        if key not in data:
            if key in _REQUIRED_RESULT_FIELDS:
                return f"no {key!r} field"
            continue
        value = data[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{key!r} should be {what}, found {type(value).__name__}"
    for key in ("title", "finished_at", "mnistlab_version"):
        if key in data and not isinstance(data[key], str):
            return f"{key!r} should be a string, found {type(data[key]).__name__}"
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in data.get("seeds", [])):
        return "every seed should be an integer"
    metrics = data.get("metrics", {})
    bad = next((k for k, v in metrics.items() if not _is_number(v)), None)
    if bad is not None:
        return f"metric {bad[:80]!r} should be a number, found {type(metrics[bad]).__name__}"
    for name, table in data.get("tables", {}).items():
        if not (isinstance(table, dict) and isinstance(table.get("columns"), list)
                and isinstance(table.get("rows"), list) and all(isinstance(r, list) for r in table["rows"])
                and isinstance(table.get("caption", ""), str)):
            return f"table {name[:80]!r} should have a list of columns and a list of rows"
    for fig in data.get("figures", []):
        if not (isinstance(fig, dict) and isinstance(fig.get("file"), str) and isinstance(fig.get("caption", ""), str)):
            return "every figure should have a file name and a caption"
        # A figure is read from inside the task folder only: a path elsewhere would embed an arbitrary file.
        where = PurePosixPath(fig["file"])
        if not fig["file"] or where.is_absolute() or ".." in where.parts or "\\" in fig["file"]:
            return f"figure file {fig['file'][:80]!r} is not a path inside the task folder"
    if not all(isinstance(p, dict) and all(isinstance(p.get(k), str) for k in ("id", "text", "finding"))
               for p in data.get("paragraphs", [])):
        return "every paragraph should have a string id, text and finding"
    absurd = absurd_number({k: v for k, v in data.items() if k != DIGEST})
    if absurd is not None:
        return absurd
    for ref in data.get("references", []):
        if not (isinstance(ref, dict) and all(isinstance(ref.get(k), str) for k in ("quantity", "published", "source"))
                and isinstance(ref.get("metric") or "", str)
                and all(isinstance(ref.get(k, ""), str) for k in ("note", "unit"))):
            return "every reference should have a quantity, a published value and a source"
    return None


def read_result(path: Path, task: str | None = None) -> dict:
    """The parsed OUT/<task>/result.json, or a MnistlabError naming the file and what is wrong with it.

    With `task`, a result whose "task" field names another task (one copied over this one) is damaged too.
    A missing file is FileNotFoundError (not run yet), not a damaged one; a link that leads outside the
    task folder, or a FIFO, is not read.
    """
    try:
        data = read_json(path, within=path.parent)
    except FileNotFoundError:
        raise
    except OSError as exc:
        reason = str(exc) if isinstance(exc, NotARegularFile) else (exc.strerror or str(exc))
        raise MnistlabError(f"{path}: cannot read the stored result ({reason})") from None
    except (ValueError, RecursionError) as exc:  # bad JSON, or not UTF-8
        raise MnistlabError(f"{path}: damaged stored result, not valid JSON ({str(exc)[:100]})") from None
    try:
        problem = _result_problem(data)
        if problem is None and DIGEST in data and data[DIGEST] != content_digest(data):
            problem = "its content differs from the digest it was written with (edited or damaged)"
        if problem is None and task is not None and data["task"] != task:
            problem = f"it is the result of {data['task'][:80]!r}, not of {task!r} (copied over it?)"
    except Exception as exc:  # whatever else a crafted file provokes: still a damaged result, never a traceback
        problem = f"unreadable ({type(exc).__name__})"
    if problem is not None:
        raise MnistlabError(f"{path}: damaged stored result: {problem}")
    return data
