"""Figures for looking inside a CNN: filter grids, feature-map grids and class-visualisation progressions.

Grids are drawn as one mosaic image per panel (tiles separated by a one-pixel line), not one axes per
tile: a 64 x 32 grid of kernels is a single imshow, fast and with one shared colour scale by design.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors

from mnistlab.viz import bare

# Diverging map for signed weights (white = 0), sequential map for non-negative activations.
WEIGHT_CMAP = "RdBu_r"
ACTIVATION_CMAP = "magma"
IMAGE_CMAP = "gray_r"  # as in the data overview: dark ink on white


def mosaic(tiles: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
    """Tiles (n, h, w) as one (rows*(h+pad)-pad, ncols*(w+pad)-pad) array; separators and empty cells are NaN."""
    tiles = np.asarray(tiles, dtype=float)
    n, h, w = tiles.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[i]
    return out


def _enlarge(tiles: np.ndarray, target: int = 12) -> np.ndarray:
    """Repeat each pixel of tiny kernels so that a one-pixel separator stays thin beside a 4x4 kernel."""
    factor = max(1, target // tiles.shape[-1])
    return np.repeat(np.repeat(np.asarray(tiles), factor, axis=-2), factor, axis=-1)


def _cmap(name: str, separator: str):
    return plt.get_cmap(name).with_extremes(bad=separator)


def _label_mosaic(ax, n: int, ncols: int, h: int, w: int, pad: int, what: str) -> None:
    """Ticks that name each tile: columns 0..ncols-1 on top, the index of each row's first tile on the left."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    step = 1 if ncols <= 16 else 4
    ax.set_xticks([c * (w + pad) + (w - 1) / 2 for c in range(0, ncols, step)],
                  [f"+{c}" for c in range(0, ncols, step)], fontsize=6)
    rstep = 1 if nrows <= 16 else 4
    ax.set_yticks([r * (h + pad) + (h - 1) / 2 for r in range(0, nrows, rstep)],
                  [str(r * ncols) for r in range(0, nrows, rstep)], fontsize=6)
    ax.xaxis.tick_top()
    ax.tick_params(length=0, pad=1)
    ax.set_ylabel(f"{what} index (row start + column)", fontsize=7)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def filter_grid(tiles: np.ndarray, ncols: int, vmax: float, title: str, *, what: str = "filter",
                cell: float = 0.42) -> plt.Figure:
    """Kernels (n, k, k) on a grid, on a symmetric colour scale [-vmax, vmax] centred on 0, with a colour bar."""
    tiles = _enlarge(tiles)
    n, h, w = tiles.shape
    image = mosaic(tiles, ncols)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, ax = plt.subplots(figsize=(cell * ncols + 1.6, cell * nrows + 0.9))
    shown = ax.imshow(image, cmap=_cmap(WEIGHT_CMAP, "#3a3a3a"), vmin=-vmax, vmax=vmax, interpolation="nearest")
    _label_mosaic(ax, n, ncols, h, w, 1, what)
    fig.colorbar(shown, ax=ax, fraction=0.035, pad=0.02, label="weight")
    ax.set_title(title, fontsize=9)
    return fig


def full_kernel_grid(weight: np.ndarray, vmax: float, title: str, cell: float = 0.2) -> plt.Figure:
    """Every kernel of a (out, in, k, k) weight: one column per output filter, one row per input channel."""
    out_ch, in_ch, h, w = weight.shape
    tiles = _enlarge(np.transpose(weight, (1, 0, 2, 3)).reshape(in_ch * out_ch, h, w))  # row = input channel
    h, w = tiles.shape[1:]
    image = mosaic(tiles, out_ch)
    fig, ax = plt.subplots(figsize=(cell * out_ch + 1.8, cell * in_ch + 1.0))
    shown = ax.imshow(image, cmap=_cmap(WEIGHT_CMAP, "#3a3a3a"), vmin=-vmax, vmax=vmax, interpolation="nearest")
    xs = range(0, out_ch, 8)
    ys = range(0, in_ch, 4)
    ax.set_xticks([c * (w + 1) + (w - 1) / 2 for c in xs], [str(c) for c in xs], fontsize=6)
    ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in ys], [str(r) for r in ys], fontsize=6)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.tick_params(length=0, pad=1)
    ax.set_xlabel("output filter", fontsize=8)
    ax.set_ylabel("input channel", fontsize=8)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(shown, ax=ax, fraction=0.025, pad=0.02, label="weight")
    ax.set_title(title, fontsize=9, pad=16)
    return fig


def feature_maps(inputs: Sequence[np.ndarray], input_titles: Sequence[str], maps: Sequence[np.ndarray],
                 ncols: int, title: str, cell: float = 0.42) -> plt.Figure:
    """One row per image: the input image, then all its channels' maps (c, h, w) on one grid.

    All rows share one colour scale, 0 to the 99.5th percentile of the figure's activations (a handful of
    hot units would otherwise darken every other map), so the same channel can be compared between images
    and a silent channel is black in every row.
    """
    c, h, w = maps[0].shape
    ncols = max(1, min(ncols, c))
    nrows = -(-c // ncols)
    values = np.concatenate([np.ravel(m) for m in maps])
    vmax = float(np.percentile(values, 99.5)) or float(values.max()) or 1.0
    width = ncols * (w + 1) / 28 * cell
    height = nrows * (h + 1) / 28 * cell
    scale = max(1.0, 6.0 / width)  # small maps (7 x 7) get bigger cells
    width, height = width * scale, height * scale
    fig = plt.figure(figsize=(width + 3.2, (height + 0.5) * len(maps) + 0.7))
    grid = fig.add_gridspec(len(maps), 3, width_ratios=[1.3, width, 0.12], wspace=0.12, hspace=0.3)
    cmap = _cmap(ACTIVATION_CMAP, "white")
    shown = None
    for row, (img, img_title, m) in enumerate(zip(inputs, input_titles, maps, strict=True)):
        ax_in = fig.add_subplot(grid[row, 0])
        ax_in.imshow(img, cmap=IMAGE_CMAP, vmin=0, vmax=1, interpolation="nearest")
        bare(ax_in)
        ax_in.set_title(img_title, fontsize=8)
        ax = fig.add_subplot(grid[row, 1])
        shown = ax.imshow(mosaic(m, ncols), cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        _label_mosaic(ax, c, ncols, h, w, 1, "channel")
        ax.set_ylabel("")
    fig.colorbar(shown, cax=fig.add_subplot(grid[:, 2]), label="activation (after ReLU)", extend="max")
    fig.suptitle(f"{title}\nchannel index = number left of the row + number above the column", fontsize=9)
    return fig


def dream_progress(rows: Sequence[dict], title: str, cell: float = 1.25) -> plt.Figure:
    """Rows of snapshots of a class visualisation, then the change from the start.

    Each row is {'label', 'steps': [int], 'images': [(h, w)], 'confidence': [float], 'target': int}.
    """
    nsnap = max(len(r["images"]) for r in rows)
    fig = plt.figure(figsize=(cell * (nsnap + 1) + 2.2, cell * len(rows) * 1.15 + 0.6))
    grid = fig.add_gridspec(len(rows), nsnap + 2, width_ratios=[1] * (nsnap + 1) + [0.08],
                            wspace=0.08, hspace=0.45)
    norm = colors.TwoSlopeNorm(vmin=-1, vcenter=0, vmax=1)
    change_im = None
    for r, row in enumerate(rows):
        for j in range(nsnap + 1):
            ax = fig.add_subplot(grid[r, j])
            bare(ax)
            if j < len(row["images"]):
                ax.imshow(row["images"][j], cmap=IMAGE_CMAP, vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(f"step {row['steps'][j]}\np({row['target']}) = {row['confidence'][j]:.3f}",
                             fontsize=7, pad=2)
                for spine in ax.spines.values():  # a frame, so a white image still has an edge
                    spine.set_visible(True)
                    spine.set_color("#bbbbbb")
            elif j == nsnap:
                change = row["images"][-1] - row["images"][0]
                change_im = ax.imshow(change, cmap=WEIGHT_CMAP, norm=norm, interpolation="nearest")
                ax.set_title("change\n(final - start)", fontsize=7, pad=2)
            if j == 0:
                ax.set_ylabel(row["label"], fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    if change_im is not None:
        fig.colorbar(change_im, cax=fig.add_subplot(grid[:, -1]), label="pixel change (red: ink added)")
    fig.suptitle(title, fontsize=10)
    return fig


def dream_classes(starts: Sequence[np.ndarray], start_titles: Sequence[str], dreams: Sequence[np.ndarray],
                  confidence: np.ndarray, row_labels: Sequence[str], title: str, cell: float = 1.0) -> plt.Figure:
    """Rows of class visualisations: the start image, then one dream per target class 0-9."""
    nrows, ncls = confidence.shape
    fig, axes = plt.subplots(nrows, ncls + 1, figsize=(cell * (ncls + 1) + 1.3, cell * nrows * 1.2 + 0.5),
                             squeeze=False, gridspec_kw={"wspace": 0.06, "hspace": 0.35})
    for r in range(nrows):
        for j, ax in enumerate(axes[r]):
            bare(ax)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color("#bbbbbb")
            if j == 0:
                ax.imshow(starts[r], cmap=IMAGE_CMAP, vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(start_titles[r], fontsize=7, pad=2)
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_color("#0b5fa5")
            else:
                c = j - 1
                ax.imshow(dreams[r][c], cmap=IMAGE_CMAP, vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(f"class {c}\np = {confidence[r, c]:.3f}", fontsize=7, pad=2)
        axes[r, 0].set_ylabel(row_labels[r], fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    fig.suptitle(title, fontsize=10)
    return fig
