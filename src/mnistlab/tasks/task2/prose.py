"""Task 2's discussion, paragraphs by id, written from its findings: the brief's pair in full, its learned
w, all pairs, the last iterate against the pocket parameters and the scikit-learn cross-check, each led by
its finding and every claim decided by a comparison of the findings' numbers."""

from __future__ import annotations

import numpy as np

from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.task2.config import Config
from mnistlab.tasks.task2.findings import Findings

TEMPLATE = 0.5  # correlation of w with the difference of the class means from which w "is a template" of it
RHO_CLEAR = 0.3  # |Spearman| from which the distance of the class means says which pairs are easier
LOOKALIKES = {(4, 9): "a 4 closed at the top is a 9", (3, 5): "a 3 and a 5 differ in one short stroke"}


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The answers, from the findings, by id: 'detail' (the brief's pair), 'weights' (its w), 'pairs' (all
    pairs), 'pocket' (the last iterate against the pocket parameters) and, with the scikit-learn check,
    'sklearn'. Each states a finding, but 'pocket' without pocket parameters: then the last iterate is what
    'pairs' reports already."""
    text = {"detail": _detail_text(f, config), "weights": _weights_text(f), "pairs": _pairs_text(f, config),
            "pocket": _pocket_text(f, config)}
    if f.sklearn is not None:
        text["sklearn"] = _sklearn_text(f)
    return text


def _course(errors: tuple[float, ...]) -> str:
    first, last = f"{errors[0]:.2%}", f"{errors[-1]:.2%}"
    if len(errors) == 1:
        return f"was {first} after the single iteration"
    verb = "stayed at" if first == last else "fell from" if errors[-1] < errors[0] else "rose from"
    return (f"{verb} {first} from the first iteration to iteration {len(errors)}" if first == last else
            f"{verb} {first} after the first iteration to {last} after {len(errors)} iteration(s)")


def _detail_text(f: Findings, config: Config) -> Paragraph:
    (a, b), converged, o = f.detail, f.converged[f.detail], f.other
    return Paragraph(
        f"Pair {a} vs {b} (labels -1 and +1, {f.n_train[f.detail]:,} training images): with the {config.rule} rule "
        f"the training error {_course(f.errors[f.detail])} ({'within' if converged else 'not within'} the "
        f"tolerance {config.tol:g}); train accuracy {f.train_acc[f.detail]:.2%}, test accuracy "
        f"{f.test_acc[f.detail]:.2%}.",
        (f"The {o.rule} rule on the same pair and initial weights took {len(o.errors)} iteration(s) "
         f"to a training error of {o.errors[-1]:.2%} (test accuracy {o.test_acc:.2%}). " if o is not None else "")
        + ("Reaching the tolerance shows the training images of this pair are (almost) linearly separable, "
           "the case in which the perceptron convergence theorem guarantees that the rule stops after a finite "
           "number of mistakes." if converged else
           f"The rule did not reach the tolerance within {config.max_iter} iterations: either the images are "
           "not linearly separable, or the margin is so small that the convergence theorem's bound on the "
           "number of mistakes, (R / margin)^2, is not yet reached."))


def _weights_text(f: Findings) -> Paragraph:
    a, b = f.detail
    how = "is a template" if f.corr_w >= TEMPLATE else "is only loosely a template"
    return Paragraph(
        f"The learned w of pair {a} vs {b} {how} of where the two digits differ: its correlation with the "
        f"difference of the class means (mean '{b}' minus mean '{a}') is {f.corr_w:.2f}, and "
        f"{f.share_on_ink:.0%} of its total |w| sits on pixels that carry ink in at least 5% of either class.",
        f"Pixels where '{b}' usually has ink and '{a}' does not get positive weight, the reverse negative weight: "
        f"a misclassified '{b}' adds its own image to w, a misclassified '{a}' subtracts its image. A pixel that "
        f"is blank (-1) in every image moves only opposite to the bias, so the blank border carries no "
        f"information about the class.")


def _pairs_text(f: Findings, config: Config) -> Paragraph:
    ranked, n = f.ranked, len(f.pairs)
    hardest, easiest = ranked[-1], ranked[0]
    how = ("all pairs batched into one matrix product per class block per iteration" if config.rule == "batch"
           else "one pair after another")
    return Paragraph(
        f"Over all {n} pairs the mean test accuracy is {f.mean_test_acc():.2%} (lowest {hardest[0]} vs "
        f"{hardest[1]} at {f.test_acc[hardest]:.2%}, highest {easiest[0]} vs {easiest[1]} at "
        f"{f.test_acc[easiest]:.2%}); {sum(f.converged.values())} of {n} pairs reached a training "
        f"error of at most {config.tol:g} within {config.max_iter} iterations.",
        f"The whole sweep took {f.sweep_seconds:.1f} s ({config.rule} rule, {how})." + _hardest_text(f)
        + _distance_text(f.rho))


def _hardest_text(f: Findings) -> str:
    """The (up to five) hardest pairs that make test errors, and the look-alike strokes among them."""
    hardest = [p for p in f.ranked[-5:][::-1] if f.test_acc[p] < 1]
    if not hardest:
        return " Every pair's test images are classified without error."
    examples = [text for pair, text in LOOKALIKES.items() if pair in hardest]
    return (
        f" The hardest {'pairs are' if len(hardest) > 1 else 'pair is'} "
        + ", ".join(f"{p[0]}-{p[1]} ({f.test_acc[p]:.1%})" for p in hardest)
        + (f": digits that share most of their strokes ({', '.join(examples)}), so no single hyperplane in pixel "
           "space separates their test images cleanly." if examples else
           ": the learned hyperplane misclassifies some of their test images."))


def _distance_text(rho: float) -> str:
    if not np.isfinite(rho):
        return (" With fewer than three pairs there is no rank correlation between the distance of the "
                "class-mean images and the test accuracy.")
    meaning = ("pairs whose average images are far apart are easier" if rho >= RHO_CLEAR else
               "here pairs whose average images are far apart are harder" if rho <= -RHO_CLEAR else
               "the distance between the average images says little about which pairs are easier")
    return (" Across pairs, the distance between the two class-mean images and the test accuracy have Spearman "
            f"correlation {rho:.2f}: {meaning}.")


def _pocket_text(f: Findings, config: Config) -> str:
    last_mean, mean = f.mean_test_acc(last=True), f.mean_test_acc()
    worst = min(f.pairs, key=lambda p: (f.last_test_acc[p], p))
    last = (f"The last iterate of every pair gives a mean test accuracy of {last_mean:.2%}, lowest "
            f"{f.last_test_acc[worst]:.2%} on {worst[0]} vs {worst[1]}")
    unsettled = ("On images that are not linearly separable the perceptron rule never settles, and an iteration "
                 "that misclassifies many images moves w far, so the last iterate can land on a poor hyperplane "
                 "even after a good one was found.")
    if not config.pocket:  # the last iterate is what the other paragraphs report: no finding of its own
        return (f"The accuracies above are those of the last iterate, as the brief's loop returns it. {last}. "
                f"{unsettled}")
    pocket = ("The accuracies above are those of the pocket parameters, the (w, b) with the lowest training error "
              "seen during the run.")
    if last_mean >= mean:
        return Paragraph(f"{last}, no lower than the pocket parameters' {mean:.2%}: on this run keeping the best "
                         "parameters seen gained nothing on the test set.", pocket)
    return Paragraph(f"{last}, below the pocket parameters' {mean:.2%}.", f"{pocket} {unsettled}")


def _sklearn_text(f: Findings) -> Paragraph:
    theirs = np.array(f.sklearn.test_acc)
    diff = np.array([f.test_acc[p] for p in f.pairs]) - theirs
    big = f.pairs[int(np.argmax(np.abs(diff)))]
    differ = bool(np.any(diff != 0))
    return Paragraph(
        f"Cross-check: scikit-learn's Perceptron on the same pairs and images reaches a mean test accuracy of "
        f"{theirs.mean():.2%} against our {f.mean_test_acc():.2%} "
        + (f"(mean difference ours minus theirs {diff.mean():+.2%}, largest gap {abs(diff).max():.2%} on {big[0]} "
           f"vs {big[1]})." if differ else "(the same on every pair)."),
        "The two are the same learning rule with different schedules: scikit-learn runs online epochs from "
        "w = 0 with its own stopping test (no improvement of its loss by tol for 5 epochs)"
        + (", so single pairs differ by where each run happened to stop on data that is not separable." if differ
           else "."))
