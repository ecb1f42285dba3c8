"""Where the dataset files are, how they are verified, and where else to look for them.

Every file is checked against the SHA-256 of its *decompressed* content, so a
re-compressed copy (Debian's, say) is as good as the original. The look-up
order: explicit folder -> the repository's data/ -> the
user cache -> Debian's dataset-fashion-mnist -> the canonical mirrors.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

from mnistlab.data.idx import read_bytes
from mnistlab.errors import DataError
from mnistlab.execution.atomic import atomic_file

DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")

_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

# SHA-256 of the decompressed files, as published in shared/data/*/SHA256SUMS.uncompressed.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

DEBIAN_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}

ENV_DATA_DIR = "MNISTLAB_DATA"
ENV_NO_DOWNLOAD = "MNISTLAB_NO_DOWNLOAD"
REPO_DATA_DIR = Path(__file__).resolve().parents[3] / "data"


def cache_root() -> Path:
    """The user cache: $XDG_CACHE_HOME/mnistlab (or ~/.cache/mnistlab)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnistlab"


def stem(split: str, kind: str) -> str:
    return _STEMS[(split, kind)]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(read_bytes(path)).hexdigest()


def candidate_dirs(name: str, data_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The folders searched for dataset `name`, in order, each with a label for messages."""
    places: list[tuple[str, Path]] = []
    explicit = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR)
    if explicit:
        label = "--data-dir" if data_dir is not None else f"${ENV_DATA_DIR}"
        places.append((label, Path(explicit) / name))
    places.append(("repository data/", REPO_DATA_DIR / name))
    places.append(("user cache", cache_root() / "data" / name))
    if name in DEBIAN_DIRS:
        places.append(("Debian dataset-fashion-mnist", DEBIAN_DIRS[name]))
    return places


def _file_in(folder: Path, file_stem: str) -> Path | None:
    for candidate in (folder / f"{file_stem}.gz", folder / file_stem):
        if candidate.is_file():
            return candidate
    return None


def verify(path: Path, name: str, file_stem: str) -> str:
    """Check a file's decompressed SHA-256; raise a DataError naming file and both digests if wrong."""
    expected = SHA256[name][file_stem]
    try:
        actual = sha256_of(path)
    except DataError as exc:
        if not path.is_file():
            raise
        try:  # the file's own digest, to compare with a known good copy
            own = f"; the file's own SHA-256 is {hashlib.sha256(path.read_bytes()).hexdigest()}"
        except OSError:
            own = ""
        raise DataError(f"{exc}: corrupt {name} file: its decompressed SHA-256 should be {expected}{own}") from None
    if actual != expected:
        raise DataError(f"{path}: corrupt {name} file: SHA-256 expected {expected}, got {actual}")
    return actual


def locate(name: str, split: str, kind: str, data_dir: str | Path | None = None,
           allow_download: bool | None = None) -> Path:
    """The first file for (name, split, kind) found along the look-up order.

    The file's digest is not checked here (see `verify`); a file that exists but
    is corrupt is an error, not a reason to look further: silently using another
    copy would hide a damaged data folder.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    file_stem = stem(split, kind)
    explicit = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR)
    if explicit:
        # An explicit place is not silently replaced by another: that would hide a typo or a broken copy.
        label = "--data-dir" if data_dir is not None else f"${ENV_DATA_DIR}"
        root = Path(explicit)
        if not root.is_dir():
            raise DataError(f"{label} {root} {'is not a folder' if root.exists() else 'does not exist'}")
        found = _file_in(root / name, file_stem)
        if found is None:
            raise DataError(f"{label} {root} has no {name}/{file_stem}.gz (nor {name}/{file_stem}); copy the "
                            f"file there, or leave {label} unset to use the repository's data/ or the user cache")
        return found
    places = candidate_dirs(name, data_dir)
    for _, folder in places:
        found = _file_in(folder, file_stem)
        if found is not None:
            return found
    if allow_download is None:
        allow_download = not os.environ.get(ENV_NO_DOWNLOAD)
    tried = "; ".join(f"{label}: {folder}" for label, folder in places)
    errors: list[str] = []
    if allow_download:
        target = cache_root() / "data" / name / f"{file_stem}.gz"
        for mirror in MIRRORS[name]:
            try:
                _download(mirror + f"{file_stem}.gz", target)
                verify(target, name, file_stem)
                return target
            except (OSError, DataError) as exc:
                target.unlink(missing_ok=True)
                errors.append(f"{mirror}: {exc}")
        tried += "; " + "; ".join(errors)
    raise DataError(
        f"{name} file {file_stem}(.gz) not found. Tried {tried}. "
        f"Copy the IDX files into one of these folders or point --data-dir / ${ENV_DATA_DIR} at a folder "
        f"holding {name}/{file_stem}.gz"
    )


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=30) as response, atomic_file(target, "wb") as tmp:
        shutil.copyfileobj(response, tmp)
