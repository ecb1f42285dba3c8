"""Time Task 2's perceptron: all 45 pairs batched against a loop over pairs, and the online rule against a
per-sample Python loop, in one process, on the full MNIST training set.

    .venv/bin/python benchmarks/bench_perceptron.py                # 20 iterations of the 45-pair sweep
    .venv/bin/python benchmarks/bench_perceptron.py --iters 5 --rounds 2

Each variant runs `rounds` times, interleaved, and the minimum is kept: on a shared machine a single
timing can be off by 2x. Every pair of variants is also checked to give the same error curves.
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations

import numpy as np

from mnistlab.models.perceptron import (
    _online_pass,
    fit_perceptron,
    initial_parameters,
    optimise_pairs,
    pair_labels_second_positive,
)
from mnistlab.tasks.task2.findings import load_pm1_flat


def naive_online_pass(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lr: float, order: np.ndarray) -> float:
    """The textbook loop: one dot product and one Python-level decision per sample."""
    for i in order:
        if (1.0 if x[i] @ w + b >= 0 else -1.0) != y[i]:
            w += (lr * y[i]) * x[i]
            b += lr * float(y[i])
    return b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=20, help="iterations of the batch rule per timed sweep")
    parser.add_argument("--passes", type=int, default=5, help="passes (iterations) of the online rule per timing")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    x, labels = load_pm1_flat("train", None)
    pairs = list(combinations(range(10), 2))
    best: dict[str, float] = {}
    curves: dict[str, list] = {}

    def timed(name: str, fn) -> None:
        start = time.perf_counter()
        curves[name] = fn()
        best[name] = min(best.get(name, np.inf), time.perf_counter() - start)

    def loop_over_pairs() -> list:
        out = []
        for a, b in pairs:
            rows, y = pair_labels_second_positive(labels, (a, b))
            w0, b0 = initial_parameters(784, np.random.default_rng((0, a, b)), 0.01, np.float32)
            out.append(fit_perceptron(x[rows], y, w0, b0, max_iter=args.iters, tol=0.0).errors)
        return out

    rows, y = pair_labels_second_positive(labels, (3, 5))
    y = y.astype(np.float32)
    orders = [np.random.default_rng(k).permutation(len(rows)) for k in range(args.passes)]
    xp = np.ascontiguousarray(x[rows])

    def online(naive: bool) -> list:
        """`passes` epochs of the online rule; the training error after each."""
        w, b = initial_parameters(784, np.random.default_rng(1), 0.01, np.float32)
        errors = []
        for order in orders:
            b = naive_online_pass(xp, y, w, b, 0.01, order) if naive else _online_pass(xp, y, w, b, 0.01, order, 4096)
            errors.append(float(np.mean((xp @ w + b >= 0) != (y > 0))))
        return errors

    for _ in range(args.rounds):
        timed("45 pairs batched", lambda: [f.errors for f in optimise_pairs(
            x, labels, pairs, max_iter=args.iters, tol=0.0, seed=0)])
        timed("45 pairs, one at a time", loop_over_pairs)
        timed("online 3-5, vectorised", lambda: online(False))
        timed("online 3-5, per-sample loop", lambda: online(True))

    # float32 sums in a different order can flip a borderline sample, so the curves agree closely, not bit for bit
    gap = max(np.max(np.abs(np.subtract(u, v))) for u, v in zip(curves["45 pairs batched"],
                                                                 curves["45 pairs, one at a time"], strict=True))
    same_online = curves["online 3-5, vectorised"] == curves["online 3-5, per-sample loop"]
    print(f"batch rule, {args.iters} iterations x 45 pairs on 60,000 images (min of {args.rounds} rounds):")
    for name in ("45 pairs batched", "45 pairs, one at a time"):
        print(f"  {name:34s} {best[name]:7.2f} s   {best[name] / args.iters * 1000:7.1f} ms/iteration")
    print(f"  speed-up {best['45 pairs, one at a time'] / best['45 pairs batched']:.1f}x, largest difference "
          f"between their error curves: {gap:.2e}")
    print(f"online rule, {args.passes} passes over pair 3-5 ({len(rows):,} images):")
    for name in ("online 3-5, vectorised", "online 3-5, per-sample loop"):
        print(f"  {name:34s} {best[name]:7.2f} s")
    print(f"  speed-up {best['online 3-5, per-sample loop'] / best['online 3-5, vectorised']:.1f}x, "
          f"same training errors after each pass: {same_online}")


if __name__ == "__main__":
    main()
