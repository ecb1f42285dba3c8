"""Task 3's discussion, paragraphs by id, written from its findings."""

from __future__ import annotations

from typing import Any

from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.sweeps import Verdict, per_epoch_seconds
from mnistlab.tasks.task3.config import Config
from mnistlab.tasks.task3.findings import Findings
from mnistlab.train import precision_words


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'model' (Task 3.1), 'curves' (only with more than one epoch),
    'sweep' (Task 3.2), 'size' (the conclusion) and 'precision' (only when an fp32 run stands beside bf16).
    Each but 'size' states a finding; the size conclusion compares one trained network of each size, which
    cannot tell sizes apart (the runner's comparisons across seeds can)."""
    curves = {"curves": _curves(f)} if f.curve.epochs > 1 else {}
    precision = ({"precision": _precision(f.first, f.fp32, f.precision)}
                 if f.fp32 is not None and f.precision is not None else {})
    return {"model": _model(f, config), **curves, "sweep": _sweep_text(f), "size": _size(f), **precision}


def _model(f: Findings, config: Config) -> Paragraph:
    first = f.first
    return Paragraph(
        f"Task 3.1: {first['name']} ({first['params']:,} parameters) reaches {first['test_acc']:.2%} accuracy on "
        f"the test data and {first['train_acc']:.2%} on the training data (test loss {first['test_loss']:.3f}).",
        f"It was trained with Adam (lr {config.lr:g}, batch {config.batch_size}, {f.curve.epochs} epoch(s), "
        f"{precision_words(config.precision)}). The softmax is folded into the loss: the network outputs logits "
        f"and cross-entropy applies log-softmax, the numerically stable form of 'softmax layer + cross-entropy'.")


def _curves(f: Findings) -> Paragraph:
    c, first = f.curve, f.first
    gap = (first["train_acc"] - first["test_acc"]) * 100
    rises = "rises every epoch" if c.train_acc_rises else "does not rise every epoch"
    best = f"{c.best_test_acc:.2%} at epoch {c.best_test_epoch}"
    test = f"flattens early (best {best})" if c.flattens_early else f"peaks at {best}"
    if not c.test_loss_rose:
        ending = (f"the test loss has not turned up, so these {c.epochs} epochs show no over-fitting yet (train-test "
                  f"gap {gap:.2f} points)")
    else:
        memorised = ("once the training set is nearly memorised" if first["train_acc"] >= 0.99 else
                     "as the network fits the training set more closely")
        ending = (f"{memorised} (train-test gap {gap:.2f} points) the network grows more confident on the test "
                  f"digits it gets wrong, the usual sign of over-fitting without regularisation; early stopping on a "
                  f"validation split or dropout would keep the best epoch")
    return Paragraph(f"The learning curves: training accuracy {rises} ({c.first_train_acc:.2%} after epoch 1, "
                     f"{c.last_train_acc:.2%} after epoch {c.epochs}), while test accuracy {test}.",
                     f"The test loss is lowest at epoch {c.min_test_loss_epoch} ({c.min_test_loss:.3f}) and ends at "
                     f"{c.last_test_loss:.3f}: {ending}.")


def _sweep_text(f: Findings) -> Paragraph:
    best, biggest, smallest, deepest = f.best, f.biggest, f.smallest, f.deepest
    spread = (best["test_acc"] - min(r["test_acc"] for r in f.rows)) * 100
    return Paragraph(
        f"Task 3.2: across the {len(f.rows)} MLPs test accuracy spans {spread:.2f} percentage points; the best is "
        f"{best['name']} ({best['test_acc']:.2%}, {best['params']:,} parameters, {best['depth']} weight layers).",
        f"The largest, {biggest['name']} ({biggest['params']:,}), scores {biggest['test_acc']:.2%} and the smallest, "
        f"{smallest['name']} ({smallest['params']:,}, {smallest['params'] / biggest['params']:.0%} of the largest), "
        f"{smallest['test_acc']:.2%}; the deepest, {deepest['name']} ({deepest['depth']} weight layers), "
        f"{deepest['test_acc']:.2%}. Training took {per_epoch_seconds(smallest):.1f} s per epoch for the smallest and "
        f"{per_epoch_seconds(biggest):.1f} s for the largest (this run's timings, under whatever else the machine "
        f"ran: compare them with care; the arithmetic per image is proportional to the parameter count, "
        f"{biggest['params'] / smallest['params']:.0f}x between these two).")


def _size(f: Findings) -> str:
    first, biggest = f.first, f.biggest
    if biggest is first:
        claim = (f"Conclusion on size: {first['name']} is the largest MLP of this sweep, so no larger network was "
                 "compared with it.")
    else:
        how = "tested on this seed's test predictions" if f.size.tested else "not tested"
        claim = (f"Conclusion on size ({biggest['name']} has {biggest['params'] / first['params']:.1f}x the parameters "
                 f"of {first['name']}), {how}: {f.size.text}.")
    return (claim + " A fully connected network ignores that neighbouring pixels belong together, so it has to "
            "learn every translation of a stroke separately; more layers and units add capacity (compare the train "
            "and test columns), not that inductive bias. Task 4's convolutions add it.")


def _precision(first: dict[str, Any], fp32: dict[str, Any], verdict: Verdict) -> Paragraph:
    bf16_pace, fp32_pace = per_epoch_seconds(first), per_epoch_seconds(fp32)
    speedup = fp32_pace / bf16_pace
    pace = f"{speedup:.2f}x as fast as fp32" if speedup >= 1 else f"at {speedup:.2f}x the speed of fp32, slower"
    how = "tested on this seed's test predictions" if verdict.tested else "not tested"
    return Paragraph(
        f"bf16 against fp32: {first['name']} trained {pace} in bf16 autocast ({bf16_pace:.3g} against "
        f"{fp32_pace:.3g} s per epoch, one run of each).",
        f"It reached {first['test_acc']:.2%} test accuracy in bf16 and {fp32['test_acc']:.2%} in fp32, from the "
        f"same first weights (times measured beside whatever else the machine ran: compare them with care). "
        f"Accuracy, {how}: {verdict.text}.")
