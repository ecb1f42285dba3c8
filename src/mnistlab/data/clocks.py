"""Tell-the-time: a generated data set of analogue clock faces, and the common-sense error.

Every clock is rendered analytically with NumPy: each pixel's signed distance to the face, the rim, the
ticks and the hands is computed in closed form, and its coverage `clip(0.5 - distance, 0, 1)` is the
anti-aliased ink fraction. That needs no super-sampling and no drawing library, is vectorised over a
chunk of images at once (18,000 clocks of 150x150 in well under a minute on one core), and is exact
arithmetic on seeded random draws, so the same seed gives byte-identical images on any machine with the
same NumPy.

What varies from clock to clock: face radius and position, background, face and ink grey levels (dark
ink on a light face or the reverse), a rim or none, ticks (none, 12, or 60 with longer hour ticks; the
12 o'clock tick is drawn twice as wide, as many real dials mark it), hand lengths, widths, taper and
tails, a thin "second hand" at a random angle (a distractor: it carries no label information), a
rotation of the whole clock by a small angle, and Gaussian pixel noise.

A second face family (`ClockStyle.family="numerals"`) draws the same times differently: the numerals 1-12
as segment digits instead of ticks, strongly tapered hands without tails under a hub cap of its own grey,
shorter hands inside the ring of numerals and a thick rim. The clock task trains on the first family only
and tests on this one as an "unseen style". `ClockData.load` keeps generated sets in the user cache
(`cached_clocks`), verified by SHA-256, so any process that trains a clock sub-run gets the data itself.

The label is always the clock's own reading, (hour 0-11, minute 0-59), whatever the rotation: a clock
hung slightly askew still shows the time its hands say. The reading stays recoverable from the image:
the minute hand is always longer and thinner than the hour hand, and with the hour hand at
30*(h + m/60) + r degrees and the minute hand at 6*m + r, the difference (hour angle - minute angle/12)
is 30*h + 11*r/12, so h is unique as long as |r| < 15 * 12/11 degrees (the default limit is 15); the
ticks, where there are any, give the rotation directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mnistlab.constraints import Constrained, Constraints, Interval, OneOf
from mnistlab.data.sources import cache_root
from mnistlab.errors import ConfigError
from mnistlab.execution.atomic import current_umask, file_digest

MINUTES_PER_CYCLE = 720  # 12 hours: an analogue clock cannot tell 3 am from 3 pm
TICK_STYLES = ("none", "12", "60")
# Face families: "ticks" (the training family: tick marks or none, capsule hands, a small hub) and
# "numerals" (a second drawing, kept for testing a reader on a style it never saw: 1-12 in segment digits
# instead of ticks, strongly tapered hands without tails under a large hub cap of its own grey, a thick rim,
# shorter hands inside the ring of numerals).
FAMILIES = ("ticks", "numerals")
GENERATOR_VERSION = 1  # bump when a change to the drawing changes the images of a given seed
_CHUNK = 256  # images drawn at once; part of the noise seeding, so fixed (not a tuning knob)
# Beyond this rotation the hour is no longer unique from the hands alone (see the module docstring).
MAX_ROTATION_DEG = 15 * 12 / 11


@dataclass(frozen=True)
class ClockStyle(Constrained):
    """How much the clocks vary. Sizes are fractions of the image side or of the face radius."""

    max_rotation_deg: float = 15.0       # the whole clock turned by U(-r, r) degrees
    noise_std: tuple[float, float] = (2.0, 12.0)   # Gaussian pixel noise, std drawn U(lo, hi) grey levels
    radius: tuple[float, float] = (0.36, 0.47)     # face radius / image side
    second_hand_prob: float = 0.5        # chance of a thin distractor hand at a random angle
    min_contrast: float = 70.0           # grey-level difference between face and ink, at least
    family: str = "ticks"                # face family, one of FAMILIES

    CONSTRAINTS: ClassVar[Constraints] = {
        "max_rotation_deg": [Interval(0, MAX_ROTATION_DEG, closed="left",
                                      message=f"{{name}} must be in [0, {MAX_ROTATION_DEG:.2f}) so that the hour "
                                              "stays readable from the hands, got {value}")],
        "second_hand_prob": [Interval(0, 1, message="{name} must be in [0, 1], got {value}")],
        "family": [OneOf(FAMILIES, message="unknown clock face family {value!r}; choose one of {choices}")],
        "min_contrast": [Interval(20, 180, note=" grey levels")],
    }

    def cross_check(self) -> None:
        """The (lo, hi) ranges: both ends within bounds, and lo <= hi."""
        lo, hi = self.noise_std
        if not 0 <= lo <= hi <= 100:
            raise ConfigError(f"noise_std must be (lo, hi) with 0 <= lo <= hi <= 100 grey levels, got {self.noise_std}")
        lo, hi = self.radius
        if not 0.15 <= lo <= hi <= 0.5:
            raise ConfigError(f"radius must be (lo, hi) with 0.15 <= lo <= hi <= 0.5 of the image side, "
                              f"got {self.radius}")


def minutes_of(labels: np.ndarray) -> np.ndarray:
    """(hour, minute) label pairs (n, 2) -> minutes since 12 o'clock, 0-719."""
    labels = np.asarray(labels)
    return labels[..., 0] * 60 + labels[..., 1]


def common_sense_error(pred_minutes: Any, true_minutes: Any) -> Any:
    """How far apart two clock readings are, in minutes, the short way round the 12-hour dial (0-360).

    11:59 and 0:01 are 2 minutes apart, not 718. Works on NumPy arrays, torch tensors and numbers;
    predictions may be fractional or outside 0-719 (they are taken modulo 720).
    """
    diff = (pred_minutes - true_minutes) % MINUTES_PER_CYCLE
    if hasattr(diff, "clamp"):  # torch
        import torch

        return torch.minimum(diff, MINUTES_PER_CYCLE - diff)
    return np.minimum(diff, MINUTES_PER_CYCLE - diff)


def _draw_params(n: int, size: int, style: ClockStyle, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every random choice of every clock, drawn up front in one fixed order (so chunking changes nothing)."""
    u = rng.uniform
    p: dict[str, np.ndarray] = {}
    p["hour"] = rng.integers(0, 12, n)
    p["minute"] = rng.integers(0, 60, n)
    radius = u(*style.radius, n) * size
    p["radius"] = radius
    slack = np.maximum(size / 2 - radius - 1.5, 0)
    p["cx"] = size / 2 + u(-1, 1, n) * slack
    p["cy"] = size / 2 + u(-1, 1, n) * slack
    p["rotation"] = np.deg2rad(u(-style.max_rotation_deg, style.max_rotation_deg, n))
    # Grey levels: a light face with dark ink (3 in 4) or a dark face with light ink.
    light = u(0, 1, n) < 0.75
    face = np.where(light, u(150, 255, n), u(0, 110, n))
    ink_gap = u(style.min_contrast, 255, n)
    ink = np.clip(np.where(light, face - ink_gap, face + ink_gap), 0, 255)
    p["face"], p["ink"] = face, ink
    p["background"] = u(0, 255, n)
    p["rim"] = np.where(u(0, 1, n) < 0.7, u(0.015, 0.05, n), 0.0) * radius
    p["ticks"] = rng.integers(0, len(TICK_STYLES), n)
    p["tick_len"] = u(0.08, 0.18, n) * radius
    p["tick_w"] = u(0.02, 0.045, n) * radius
    p["hour_len"] = u(0.42, 0.6, n) * radius
    p["hour_w"] = u(0.06, 0.1, n) * radius
    p["minute_len"] = u(0.72, 0.9, n) * radius
    p["minute_w"] = u(0.025, 0.05, n) * radius
    p["taper"] = u(0.0, 0.7, n)          # tip width = (1 - taper) * base width
    p["tail"] = u(0.0, 0.18, n) * radius  # how far each hand reaches back past the centre
    p["second"] = u(0, 1, n) < style.second_hand_prob
    p["second_angle"] = u(0, 2 * np.pi, n)
    p["second_grey"] = np.clip(face + np.where(light, -1, 1) * u(40, 120, n), 0, 255)
    p["noise"] = u(*style.noise_std, n)
    if style.family == "numerals":  # drawn after the rest, so the first family's draws stay as they were
        p["ticks"] = np.zeros(n, dtype=np.int64)
        p["rim"] = u(0.05, 0.09, n) * radius
        p["numeral_h"] = u(0.13, 0.19, n) * radius       # glyph height
        p["numeral_w"] = u(0.028, 0.04, n) * radius      # stroke width
        p["numeral_r"] = u(0.74, 0.8, n) * radius        # glyph centres from the hub
        p["hour_len"] = u(0.34, 0.46, n) * radius
        p["hour_w"] = u(0.1, 0.15, n) * radius
        p["minute_len"] = u(0.56, 0.66, n) * radius
        p["minute_w"] = u(0.06, 0.09, n) * radius
        p["taper"] = u(0.75, 0.95, n)
        p["tail"] = np.zeros(n)
        p["cap"] = u(0.09, 0.14, n) * radius
        p["cap_grey"] = (face + ink) / 2 + u(-20, 20, n)
    return p


def _coverage(distance: np.ndarray) -> np.ndarray:
    """Signed distance in pixels (negative inside) -> the pixel's ink coverage, 0..1 (box-filter anti-aliasing)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _hand_distance(x: np.ndarray, y: np.ndarray, angle: np.ndarray, length: np.ndarray, width: np.ndarray,
                   taper: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Signed distance to a hand: a tapered capsule from `tail` behind the centre to `length` along `angle`
    (clockwise from 12 o'clock, image y pointing down)."""
    ux, uy = np.sin(angle), -np.cos(angle)
    along = x * ux + y * uy
    across = np.abs(-x * uy + y * ux)
    t = np.clip(along, -tail, length)
    half = 0.5 * width * (1 - taper * np.clip(t, 0, None) / length)
    return np.hypot(along - t, across) - half


def _tick_distance(r: np.ndarray, alpha: np.ndarray, count: int, outer: np.ndarray, length: np.ndarray,
                   width: np.ndarray) -> np.ndarray:
    """Signed distance to the nearest of `count` radial ticks (the one at 12 o'clock twice as wide)."""
    step = 2 * np.pi / count
    k = np.round(alpha / step)
    across = r * np.abs(np.sin(alpha - k * step))
    half = 0.5 * width * np.where(k % count == 0, 2.0, 1.0)
    radial = np.maximum(outer - length - r, r - outer)
    return np.maximum(across - half, radial)


# Seven-segment digits: segments as (u0, v0, u1, v1) in a glyph of width 1 and height 2 centred on 0, and
# which of them (a = top, then clockwise, g = middle) each digit lights.
_SEGMENTS = {"a": (-0.5, -1, 0.5, -1), "b": (0.5, -1, 0.5, 0), "c": (0.5, 0, 0.5, 1), "d": (-0.5, 1, 0.5, 1),
             "e": (-0.5, 0, -0.5, 1), "f": (-0.5, -1, -0.5, 0), "g": (-0.5, 0, 0.5, 0)}
_DIGITS = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd", "6": "afgedc",
           "7": "abc", "8": "abcdefg", "9": "abcdfg"}


def _numeral_distance(x: np.ndarray, y: np.ndarray, rot: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """Signed distance to the numerals 1-12, upright in the clock's own frame, as segment digits."""
    def col(name: str) -> np.ndarray:
        return p[name].astype(np.float32)[:, None, None]

    half_h, stroke, ring = col("numeral_h") / 2, col("numeral_w"), col("numeral_r")
    glyph_w = 0.55 * half_h * 2
    best = np.full(np.broadcast_shapes(x.shape, y.shape), np.inf, dtype=np.float32)
    cos_r, sin_r = np.cos(rot), np.sin(rot)
    for hour in range(1, 13):
        angle = hour * (np.pi / 6) + rot
        dx, dy = x - ring * np.sin(angle), y + ring * np.cos(angle)
        u, v = dx * cos_r + dy * sin_r, -dx * sin_r + dy * cos_r  # into the clock's upright frame
        text = str(hour)
        for i, digit in enumerate(text):
            shift = (i - (len(text) - 1) / 2) * 1.5  # glyph widths between the centres of two digits
            for seg in _DIGITS[digit]:
                u0, v0, u1, v1 = _SEGMENTS[seg]
                lo_u, hi_u = (min(u0, u1) + shift) * glyph_w, (max(u0, u1) + shift) * glyph_w
                lo_v, hi_v = min(v0, v1) * half_h, max(v0, v1) * half_h
                d = np.hypot(np.maximum(np.maximum(lo_u - u, u - hi_u), 0),
                             np.maximum(np.maximum(lo_v - v, v - hi_v), 0))
                np.minimum(best, d, out=best)
    return best - stroke / 2


def _render_chunk(p: dict[str, np.ndarray], size: int, noise: np.random.Generator) -> np.ndarray:
    def col(name: str) -> np.ndarray:
        return p[name].astype(np.float32)[:, None, None]

    grid = np.arange(size, dtype=np.float32) + np.float32(0.5)
    x = grid[None, None, :] - col("cx")
    y = grid[None, :, None] - col("cy")
    r = np.hypot(x, y)
    rot = col("rotation")
    alpha = np.mod(np.arctan2(x, -y) - rot, np.float32(2 * np.pi))  # clockwise from the clock's own 12 o'clock
    radius, ink = col("radius"), col("ink")

    img = np.broadcast_to(col("background"), r.shape).copy()
    face_cov = _coverage(r - radius)
    img += face_cov * (col("face") - img)
    rim = col("rim")
    img += _coverage(np.abs(r - radius + rim / 2) - rim / 2) * (rim > 0) * (ink - img)

    ticks = p["ticks"][:, None, None]
    outer = radius - rim - 0.04 * radius
    hour_ticks = _coverage(_tick_distance(r, alpha, 12, outer, col("tick_len"), col("tick_w")))
    minute_ticks = _coverage(_tick_distance(r, alpha, 60, outer, 0.45 * col("tick_len"), 0.5 * col("tick_w")))
    tick_cov = np.where(ticks == 2, np.maximum(hour_ticks, minute_ticks), np.where(ticks == 1, hour_ticks, 0.0))
    img += tick_cov * (ink - img)
    if "numeral_h" in p:
        img += _coverage(_numeral_distance(x, y, rot, p)) * (ink - img)

    hours = col("hour") + col("minute") / 60
    taper, tail = col("taper"), col("tail")
    second = _coverage(_hand_distance(x, y, col("second_angle") + rot, 0.92 * radius, 0.012 * radius + 0.6,
                                      0 * taper, 1.5 * tail))
    img += second * p["second"][:, None, None] * (col("second_grey") - img)
    for angle, length, width in ((hours * (np.pi / 6), "hour_len", "hour_w"),
                                 (col("minute") * (np.pi / 30), "minute_len", "minute_w")):
        cov = _coverage(_hand_distance(x, y, angle + rot, col(length), col(width), taper, tail))
        img += cov * (ink - img)
    if "cap" in p:  # a hub cap of its own grey, with an ink ring
        img += _coverage(r - col("cap")) * (ink - img)
        img += _coverage(r - 0.8 * col("cap")) * (col("cap_grey") - img)
    else:
        img += _coverage(r - 0.6 * col("hour_w")) * (ink - img)  # the hub over the hands' roots

    img += noise.standard_normal(img.shape, dtype=np.float32) * col("noise")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def clock_parameters(n: int, size: int = 150, seed: int = 0, style: ClockStyle = ClockStyle()) -> dict[
        str, np.ndarray]:
    """Every random choice behind `generate_clocks(n, size, seed, style)` (centre, radius, hand lengths,
    rotation in radians, tick style index into TICK_STYLES, ...): one array of length n per name. For
    checking images against their geometry, and for tests."""
    if n < 1 or size < 16:
        raise ConfigError(f"need at least one clock of at least 16x16 pixels, got n={n}, size={size}")
    style.validate()
    params_seq = np.random.SeedSequence([GENERATOR_VERSION, seed, size]).spawn(2)[0]
    return _draw_params(n, size, style, np.random.default_rng(params_seq))


def generate_clocks(n: int, size: int = 150, seed: int = 0, style: ClockStyle = ClockStyle()) -> tuple[
        np.ndarray, np.ndarray]:
    """`n` clock images (n, size, size) uint8 and their labels (n, 2) int64 = (hour 0-11, minute 0-59).

    Deterministic: the same (n, size, seed, style) gives byte-identical arrays. The hour hand sits at
    hour + minute/60 of the way round, as on a real clock.
    """
    params = clock_parameters(n, size, seed, style)
    noise_seq = np.random.SeedSequence([GENERATOR_VERSION, seed, size]).spawn(2)[1]
    images = np.empty((n, size, size), dtype=np.uint8)
    starts = range(0, n, _CHUNK)
    for start, chunk_seq in zip(starts, noise_seq.spawn(len(starts)), strict=True):
        chunk = {k: v[start:start + _CHUNK] for k, v in params.items()}
        images[start:start + _CHUNK] = _render_chunk(chunk, size, np.random.default_rng(chunk_seq))
    labels = np.stack([params["hour"], params["minute"]], axis=1).astype(np.int64)
    return images, labels


def dataset_key(n: int, size: int, seed: int, style: ClockStyle) -> dict[str, Any]:
    """Everything that determines the generated arrays: the key of a data set in the local cache."""
    return {"kind": "clock-dataset", "generator_version": GENERATOR_VERSION, "n": n, "size": size, "seed": seed,
            "style": asdict(style)}


def cached_clocks(n: int, size: int = 150, seed: int = 0, style: ClockStyle = ClockStyle(),
                  root: Path | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The arrays of `generate_clocks(n, size, seed, style)`, kept in the user cache (not the results
    folder, so a worker process or a Ray node that trains a clock sub-run gets its data itself).

    The folder is named by a hash of `dataset_key` (generator version included), written atomically (a
    scratch folder renamed into place) and verified on every read by the SHA-256 stored beside the
    arrays; a damaged copy is generated again. Returns images, labels and {'seconds': generation time
    (0 when read back), 'cached': bool}.
    """
    key = dataset_key(n, size, seed, style)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    base = (root or cache_root()) / "clocks"
    folder = base / digest
    arrays = _read_cached(folder, key)
    if arrays is not None:
        return *arrays, {"seconds": 0.0, "cached": True}
    start = time.perf_counter()
    images, labels = generate_clocks(n, size, seed, style)
    seconds = time.perf_counter() - start
    try:
        base.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=base, prefix=f".partial-{os.getpid()}-"))
        os.chmod(scratch, 0o777 & ~current_umask())  # mkdtemp's 0700 would hide a shared cache from its group
        try:
            np.save(scratch / "images.npy", images)
            np.save(scratch / "labels.npy", labels)
            meta = {"key": key, "sha256": {name: file_digest(scratch / name) for name in ("images.npy", "labels.npy")},
                    "seconds": seconds}
            (scratch / "meta.json").write_text(json.dumps(meta, indent=1))
            if folder.exists():  # a damaged copy (or one another process just finished): replace it
                shutil.rmtree(folder, ignore_errors=True)
            # OSError: another process renamed its copy into place first, and theirs is as good.
            with contextlib.suppress(OSError):
                os.replace(scratch, folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:  # a read-only or full cache costs time, not the run
        print(f"mnistlab: could not keep the clock data set in {base} ({exc}); it will be generated again",
              file=sys.stderr)
    return images, labels, {"seconds": seconds, "cached": False}


def _read_cached(folder: Path, key: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("key") != json.loads(json.dumps(key)):
            return None
        for name, digest in meta["sha256"].items():
            if file_digest(folder / name) != digest:
                print(f"mnistlab: the cached clock data set in {folder} is damaged ({name}); generating it again",
                      file=sys.stderr)
                return None
        images, labels = np.load(folder / "images.npy"), np.load(folder / "labels.npy")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    n, size = key["n"], key["size"]
    if images.shape != (n, size, size) or labels.shape != (n, 2):
        return None
    return images, labels


@dataclass(frozen=True)
class ClockData:
    """The data of one clock sub-run: `n_images` clocks of `style` (the last `n_test` are the test split)
    and, when n_unseen > 0, a test set of that many clocks of the other face family, never trained on."""

    n_images: int
    image_size: int
    style: ClockStyle
    n_test: int
    seed: int
    n_unseen: int = 0
    # Train on each training clock and on its left-right mirror image, which shows 12:00 minus its time (both
    # hands' angles change sign, the rotation stays in range, tick faces are symmetric): twice the clocks for
    # no generation time, and exact labels.
    mirror_train: bool = False
    # Clocks of the training family drawn with a seed of their own, scored once after training: the best
    # variant is chosen on them, never on the test split.
    n_val: int = 0
    # More training clocks of the training family, drawn with a seed of their own and added to the first
    # n_images - n_test: more data for the reader while the test split stays the same clocks.
    n_extra: int = 0

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, size, size) uint8 and labels (n, 2), generated or read from the local cache."""
        images, labels, _ = cached_clocks(self.n_images, self.image_size, self.seed, self.style)
        return images, labels

    def load_val(self) -> tuple[np.ndarray, np.ndarray]:
        """The validation clocks: the training family, another seed, so none repeats a training clock's draw."""
        images, labels, _ = cached_clocks(self.n_val, self.image_size, self.seed + 2_000_003, self.style)
        return images, labels

    def load_extra(self) -> tuple[np.ndarray, np.ndarray]:
        """The extra training clocks (a seed of their own, so none repeats a test, validation or unseen draw)."""
        images, labels, _ = cached_clocks(self.n_extra, self.image_size, self.seed + 3_000_017, self.style)
        return images, labels

    def unseen_style(self) -> ClockStyle:
        other = "numerals" if self.style.family == "ticks" else "ticks"
        return dataclasses.replace(self.style, family=other)

    def load_unseen(self) -> tuple[np.ndarray, np.ndarray]:
        """The other family's test clocks (a seed of their own, so no clock repeats a training clock's draw)."""
        images, labels, _ = cached_clocks(self.n_unseen, self.image_size, self.seed + 1_000_003, self.unseen_style())
        return images, labels


def hand_angles(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hour-hand and minute-hand angles in radians, clockwise from 12, of (hour, minute) labels."""
    labels = np.asarray(labels)
    minutes = labels[..., 1]
    return (labels[..., 0] + minutes / 60) * (math.pi / 6), minutes * (math.pi / 30)


__all__ = ["FAMILIES", "MAX_ROTATION_DEG", "MINUTES_PER_CYCLE", "TICK_STYLES", "ClockData", "ClockStyle",
           "cached_clocks", "clock_parameters", "common_sense_error", "dataset_key", "generate_clocks", "hand_angles",
           "minutes_of"]
