"""Many binary linear SVMs at once: one per pair of classes, trained together in a few batched Newton steps.

Each pair (a, b) gets the soft-margin L2-SVM that scikit-learn's `LinearSVC` minimises by default
(squared hinge loss, L2 penalty), on the samples of classes a (label +1) and b (label -1):

    f(w, b) = 1/2 |w|^2 + C * sum_i max(0, 1 - y_i (w . x_i + b))^2

The bias is not penalised (liblinear penalises it a little; that is the only difference). The
solver is the finite Newton method of Keerthi & DeCoste (JMLR 2005), batched: the P problems share
one data matrix and a (n, P) label matrix with zeros for the samples a pair does not use, so the
outputs, gradients and line searches of all pairs are single (n, d) x (d, P) products, and the P
Newton systems are solved by one batched Cholesky factorisation. Each Newton direction is followed
by an exact line search (along a line the objective is a convex piecewise quadratic), so the
objective falls at every step, and the method stops after a handful of steps.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from mnistlab.errors import MnistlabError

# A tiny penalty on the bias keeps the Newton system positive definite when a pair has no sample
# inside its margin; it is far below anything that could move an accuracy.
_BIAS_RIDGE = 1e-8


def class_pairs(num_classes: int = 10) -> list[tuple[int, int]]:
    """All (a, b) with a < b: 45 pairs for 10 classes, in lexicographic order."""
    return list(itertools.combinations(range(num_classes), 2))


@dataclass
class PairwiseSVM:
    """Trained pair classifiers: column p of `weights` (with `bias[p]`) separates pairs[p] = (a, b), a > 0 side."""

    pairs: list[tuple[int, int]]
    weights: np.ndarray          # (d, P)
    bias: np.ndarray             # (P,)
    c: float
    newton_steps: int
    converged: np.ndarray        # (P,) bool: relative gradient norm reached tol
    seconds: float
    objective: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,) final objective values

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Signed distances (up to |w|) for every sample and pair: (n, P); > 0 means class a."""
        return np.asarray(x, dtype=np.float64) @ self.weights + self.bias

    def pair_accuracy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Accuracy of each pair's classifier on the samples of its own two classes: (P,)."""
        y = np.asarray(y)
        scores = self.decision(x)
        acc = np.empty(len(self.pairs))
        for p, (a, b) in enumerate(self.pairs):
            keep = (y == a) | (y == b)
            if not keep.any():
                acc[p] = np.nan
                continue
            acc[p] = np.mean((scores[keep, p] >= 0) == (y[keep] == a))
        return acc


def pair_labels_first_positive(y: Tensor, pairs: list[tuple[int, int]], dtype: torch.dtype) -> Tensor:
    """(n, P) matrix: +1 where y == a, -1 where y == b, 0 where the sample is not in pair p."""
    a = torch.tensor([p[0] for p in pairs], device=y.device)
    b = torch.tensor([p[1] for p in pairs], device=y.device)
    yy = y.reshape(-1, 1)
    return (yy == a).to(dtype) - (yy == b).to(dtype)


def _np64(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def _objective(theta: Tensor, reg: Tensor, slack: Tensor, c: float) -> Tensor:
    return 0.5 * (reg * theta * theta).sum(0) + c * (slack * slack).sum(0)


def _line_search(a0: np.ndarray, a1: np.ndarray, u: np.ndarray, v: np.ndarray, starts: np.ndarray,
                 c: float, iters: int = 100) -> np.ndarray:
    """Exact minimiser t >= 0 of f(theta + t d) for every pair (safeguarded Newton on f'(t) = 0).

    Along the line, f(t) = f0 + a0 t + a1 t^2 / 2 + C sum_i max(0, 1 - u_i - t v_i)^2, with u = y (x . theta)
    and v = y (x . d) holding one entry per (sample, pair) membership, grouped by pair (pair p's entries
    start at starts[p]). f'(t) is increasing and piecewise linear, so a bracket [lo, hi] with
    f'(lo) < 0 <= f'(hi), and Newton steps that fall back to bisection when they leave it, reach the
    root in a few steps. NumPy in float64: small element-wise passes are faster single-threaded, and
    the answer must not depend on round-off.
    """
    sizes = np.diff(np.append(starts, len(u)))

    def slope(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.maximum(1 - u - np.repeat(t, sizes) * v, 0)
        d1 = a0 + t * a1 - 2 * c * np.add.reduceat(v * s, starts)
        d2 = a1 + 2 * c * np.add.reduceat(np.where(s > 0, v * v, 0.0), starts)
        return d1, d2

    lo = np.zeros(len(starts))
    g0, _ = slope(lo)
    hi = np.ones_like(lo)
    g_hi, _ = slope(hi)
    for _ in range(60):  # grow hi until the slope turns non-negative (a Newton step is rarely far from 1)
        grow = g_hi < 0
        if not grow.any():
            break
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, hi * 2, hi)
        g_hi, _ = slope(hi)
    t = hi.copy()
    scale = np.maximum(np.abs(g0), 1e-300)
    for _ in range(iters):
        g, h = slope(t)
        done = (np.abs(g) <= 1e-12 * scale) | (hi - lo <= 1e-12 * hi)
        if done.all():
            break
        lo = np.where(g < 0, t, lo)
        hi = np.where(g >= 0, t, hi)
        newton = t - g / np.maximum(h, 1e-300)
        inside = (newton > lo) & (newton < hi)
        t = np.where(done, t, np.where(inside, newton, 0.5 * (lo + hi)))
    return t


def fit_pairwise_svm(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    pairs: list[tuple[int, int]] | None = None,
    *,
    c: float = 0.01,
    tol: float = 1e-4,
    max_newton: int = 30,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
) -> PairwiseSVM:
    """Train one L2-SVM per pair of classes on (x, y), all pairs together.

    Stops when every pair's gradient norm has fallen to `tol` times its value at w = 0, or after
    `max_newton` Newton steps (`converged` says which pairs made it). `threads` is the number of torch
    threads while it runs (None: leave as is). One is the default because on the shared 2-core machine
    one thread fitted the 45 pixel-space pairs in 9.6 s and two threads in 27.5 s: the work is many
    mid-sized products and a batch of 718 x 718 factorisations, where thread synchronisation costs
    more than it gains once other processes compete for the cores.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _fit(x, y, pairs, c=c, tol=tol, max_newton=max_newton, dtype=dtype, device=device)
    finally:
        torch.set_num_threads(previous)


def _fit(x, y, pairs, *, c: float, tol: float, max_newton: int, dtype: torch.dtype,
         device: str | torch.device) -> PairwiseSVM:
    if c <= 0 or not np.isfinite(c):
        raise MnistlabError(f"the SVM's C must be a positive number, got {c}")
    start = time.perf_counter()
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).to(device=device, dtype=dtype)
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y).to(device=device)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise MnistlabError(f"expected x of shape (n, d) and y of shape (n,), got {tuple(x.shape)} and "
                            f"{tuple(y.shape)}")
    pairs = class_pairs(int(y.max()) + 1) if pairs is None else list(pairs)
    labels = pair_labels_first_positive(y, pairs, dtype)                      # (n, P)
    member = (labels != 0).to(dtype)
    present = set(torch.unique(y).tolist())
    missing = [pair for pair in pairs if not set(pair) <= present]
    if missing:
        raise MnistlabError(f"no training samples for one class of pair(s) {missing}")
    # Centring the features is only a change of the (unpenalised) bias, but it makes the Newton
    # system far better conditioned: raw pixels in [-1, 1] sit mostly at -1, far from the origin.
    mean = x.mean(0)
    # Features that never vary (MNIST's always-blank border pixels) get weight 0 at the optimum;
    # leaving them out makes every Hessian and factorisation smaller.
    used = torch.nonzero((x != x[:1]).any(0)).flatten()
    xa = torch.cat([x[:, used] - mean[used], torch.ones(len(x), 1, dtype=dtype, device=x.device)], 1)  # (n, D)
    n_feat = xa.shape[1]
    reg = torch.ones(n_feat, 1, dtype=dtype, device=x.device)
    reg[-1] = _BIAS_RIDGE
    theta = torch.zeros(n_feat, len(pairs), dtype=dtype, device=x.device)

    def state(th: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        margin = labels * (xa @ th)                              # y * f(x), (n, P)
        slack = torch.clamp(1 - margin, min=0) * member
        grad = reg * th - 2 * c * (xa.T @ (labels * slack))
        return margin, slack, grad

    margin, slack, grad = state(theta)
    g0 = grad.norm(dim=0)
    members = [torch.nonzero(member[:, p]).flatten() for p in range(len(pairs))]
    # (sample, pair) memberships, packed pair after pair: the line search only looks at these entries.
    entry_sample = torch.cat(members)
    entry_pair = torch.cat([torch.full_like(m, p) for p, m in enumerate(members)])
    starts = np.cumsum([0] + [len(m) for m in members[:-1]])
    # Per-class Gram matrices: while most of a pair's samples are inside the margin (the first
    # steps), its Hessian is cheaper as (G_a + G_b) minus the few samples outside the margin.
    gram = {}
    if n_feat > 64:
        for k in sorted({k for pair in pairs for k in pair}):
            xs = xa[y == k]
            gram[k] = xs.T @ xs
    eye_reg = torch.diag(reg.flatten())
    converged = torch.zeros(len(pairs), dtype=torch.bool, device=x.device)
    steps = 0
    while True:
        converged = grad.norm(dim=0) <= tol * g0
        if bool(converged.all()) or steps >= max_newton:
            break
        steps += 1
        # The generalised Hessian of pair p is R + 2C X_A^T X_A over its samples A inside the margin.
        # Built exactly from those rows (a few thousand per pair after the first step) and solved by a
        # batched Cholesky: a dozen Newton steps at most, where conjugate gradients needed hundreds
        # of full-data products because the system is ill-conditioned (condition number ~ 1e4).
        todo = torch.nonzero(~converged).flatten().tolist()
        if n_feat <= 64:  # few features (a 2-D embedding): one batched product over all samples is cheapest
            active = (slack[:, todo] > 0).to(dtype)
            hess = eye_reg + (2 * c) * torch.einsum("np,nd,ne->pde", active, xa, xa)
        else:
            inside = np.split(_np64(slack[entry_sample, entry_pair]) > 0, starts[1:])
            hess = torch.empty(len(todo), n_feat, n_feat, dtype=dtype, device=x.device)
            for j, p in enumerate(todo):
                if 2 * inside[p].sum() <= len(inside[p]):
                    xs = xa[members[p][torch.from_numpy(inside[p]).to(x.device)]]
                    hess[j] = eye_reg + (2 * c) * (xs.T @ xs)
                else:
                    xs = xa[members[p][torch.from_numpy(~inside[p]).to(x.device)]]
                    a, b = pairs[p]
                    hess[j] = eye_reg + (2 * c) * (gram[a] + gram[b] - xs.T @ xs)
        chol, info = torch.linalg.cholesky_ex(hess)
        if bool((info != 0).any()):  # float32 round-off on a near-singular system: retry in float64
            chol = torch.linalg.cholesky(hess.double())
        rhs = -grad[:, todo].T.unsqueeze(-1).to(chol.dtype)
        d = torch.zeros_like(theta)
        d[:, todo] = torch.cholesky_solve(rhs, chol).squeeze(-1).T.to(dtype)
        v = (labels * (xa @ d))[entry_sample, entry_pair]
        a0 = (reg * theta * d).sum(0)
        a1 = (reg * d * d).sum(0)
        t = _line_search(*(_np64(z) for z in (a0, a1, margin[entry_sample, entry_pair], v)), starts, c)
        t = torch.as_tensor(np.where(converged.cpu().numpy(), 0.0, t), dtype=dtype, device=x.device)
        theta = theta + t * d
        margin, slack, grad = state(theta)
    objective = _objective(theta, reg, slack, c)
    th = theta.double().cpu().numpy()
    weights = np.zeros((x.shape[1], len(pairs)))
    weights[used.cpu().numpy()] = th[:-1]
    return PairwiseSVM(
        pairs=pairs,
        weights=weights,
        bias=th[-1] - mean.double().cpu().numpy() @ weights,
        c=c,
        newton_steps=steps,
        converged=converged.cpu().numpy(),
        seconds=time.perf_counter() - start,
        objective=objective.double().cpu().numpy(),
    )
