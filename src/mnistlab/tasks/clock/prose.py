"""The clock task's discussion, paragraphs by id, written from its findings."""

from __future__ import annotations

import math

import numpy as np

from mnistlab.data.clocks import common_sense_error
from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.clock.config import CHANCE_MAE, Config
from mnistlab.tasks.clock.findings import Findings, classes24_bin_accuracy, large_errors

NEAR_CHANCE = 0.75 * CHANCE_MAE  # "near chance": three quarters of chance error or more


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id, the main findings first; a paragraph whose subject did not run is left out.

    Each states a finding but 'runner-up' (the order of readers each trained once, with one seed, which cannot
    tell the variants apart) and 'regression' (why the regression is trained with a wrapped loss: method)."""
    parts = {"best": _best(f), "unseen": _unseen(f), "mirror": _mirror(f), "rotation": _rotation(f),
             "runner-up": _runner_up(f), "classes24": _classes24(f), "classes720": _classes720(f, config),
             "multihead": _multihead(f), "regression": _regression(f), "regression-result": _regression_result(f),
             "curves": _curves(f)}
    return {k: v for k, v in parts.items() if v}


def _best(f: Findings) -> Paragraph:
    best, e = f.best, f.best.errors
    return Paragraph(
        f"Best (the lowest error on {'the validation clocks' if f.chosen_on_validation else 'the test clocks'}): "
        f"{best.title}, {e.mean():.1f} minutes mean common-sense error on the test clocks (median "
        f"{np.median(e):.1f}, {(e <= 5).mean():.0%} of test clocks within 5 minutes, {(e <= 15).mean():.0%} "
        f"within 15).", f"A constant guess would be {CHANCE_MAE:.0f} minutes off on average.")


def _unseen(f: Findings) -> Paragraph | str:
    best = f.best
    if best.unseen is None:
        return ""
    u = best.unseen
    ratio = u.mean() / max(best.mae, 1e-9)
    verdict = ("so it reads the second drawing about as well as the one it was trained on" if ratio < 1.5 else
               "so part of what it learned belongs to the one drawing it saw, not to clocks in general"
               if u.mean() < NEAR_CHANCE else
               "barely better than a guess: it learned the one drawing it saw, not to read clocks"
               if u.mean() < CHANCE_MAE else
               "no better than a guess: it learned the one drawing it saw, not to read clocks")
    return Paragraph(
        f"Unseen style: on {len(u):,} clocks of a second face family that training never showed, the same "
        f"{best.title} reader is {u.mean():.1f} minutes off on average (median {np.median(u):.1f}, "
        f"{(u <= 15).mean():.0%} within 15 minutes), {ratio:.1f}x its error on its own family, {verdict}.",
        "That family has numerals instead of ticks, strongly tapered hands under a hub cap, shorter hands and a "
        "thick rim.")


def _mirror(f: Findings) -> Paragraph | str:
    best = f.best
    if best.mirrored is None:
        return ""
    m, e = best.mirrored.mean(), best.mae
    gain = e - m
    return Paragraph(
        f"Test-time mirror: for {best.title}, averaging the reading of each test clock with the reading of its "
        f"mirror image gave {m:.2f} minutes against {e:.2f} from one reading"
        + (f" ({gain:.2f} minutes better)." if gain > 0 else f" ({-gain:.2f} minutes worse)."),
        "A clock mirrored left-right shows 12:00 minus its time, so each test clock was also read mirrored, that "
        "reading mapped back, and the two readings averaged.")


def _rotation(f: Findings) -> Paragraph:
    """Where the large errors come from: the clock's rotation and whether its face has ticks."""
    large, limit = large_errors(f), f.max_rotation_deg
    shares = [f"{share:.0%} of the clocks turned by {lo:.0f}-{min(hi, limit):.0f} degrees"
              for lo, hi, share in large.bands if not math.isnan(share)]  # a band without clocks says nothing
    faces = ("" if math.isnan(large.no_ticks) or math.isnan(large.ticks) else
             f"{large.no_ticks:.0%} of the faces without ticks against {large.ticks:.0%} of those with them")
    detail = "; ".join(part for part in (", ".join(shares) if limit > 0 else "", faces) if part)
    margin = 15 - limit * 11 / 12
    return Paragraph(
        f"Where the large errors are: {f.best.title} was more than 15 minutes off on {large.share:.0%} of the test "
        f"clocks; {large.hour_off:.0%} of them are 45-75 minutes off, an hour wrong with the minute about right.",
        (f"More than 15 minutes off: {detail}." if detail else "")
        + ("" if limit == 0 else
           f"{' ' if detail else ''}The whole clock is turned by up to {limit:g} degrees, and a face without ticks "
           f"shows its own 12 only through its hands: the hour hand's angle minus a twelfth of the minute hand's is "
           f"30 x hour + 11/12 x rotation, so the hour is decided by a margin of 15 degrees of that difference for "
           f"an upright clock but of {margin:.1f} for one turned by {limit:g} degrees: near that limit a reader a "
           f"degree or two off on the short hand reads the neighbouring hour."))


def _runner_up(f: Findings) -> str:
    """The runner-up against the best on the same test clocks: readers trained once each, so no finding."""
    ranked = f.ranked
    if len(ranked) < 2:
        return ""
    best, second = ranked[0], ranked[1]
    diff = second.errors - best.errors  # paired: the same test clocks
    gap, se = diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))
    split = "validation" if f.chosen_on_validation else "test"
    # Chosen on the validation clocks, the runner-up may be the better one on the test clocks.
    if abs(gap) <= 2 * se:
        verdict = "less than twice its standard error: on this test sample the two are not clearly apart"
    elif gap > 0:
        verdict = ("more than twice its standard error, so the choice of test clocks does not explain the order (each "
                   "variant was trained once, with one seed)")
    else:
        verdict = ("more than twice its standard error: on the test clocks the runner-up is clearly the better reader, "
                   "though the validation clocks chose the other (each variant was trained once, with one seed)")
    return (f"Runner-up: {second.title} at {second.mae:.1f} minutes, "
            + (f"{gap:.1f} minutes worse per clock" if gap >= 0 else f"{-gap:.1f} minutes better per clock")
            + f" (paired over the same {len(diff):,} test clocks, standard error {se:.1f}), {verdict}. "
            + ("Order of all variants: " if split == "test" else
               "Order of all variants (by their error on the validation clocks), with their test errors: ")
            + ", ".join(f"{v.title} {v.mae:.1f}" for v in ranked) + ".")


def _classes24(f: Findings) -> Paragraph | str:
    if "classes24" not in f.variants:
        return ""
    v, true = f.variants["classes24"], f.true
    centre = (true // 30) * 30 + 15
    floor = float(np.abs(true - centre).mean())
    return Paragraph(f"24 half-hour classes picked the right bin for {classes24_bin_accuracy(f):.0%} of the test "
                     f"clocks and scored {v.mae:.1f} minutes.",
                     f"They cannot beat {floor:.1f} minutes on these test clocks even when every bin is right, since "
                     f"the answer is the bin's centre.")


def _classes720(f: Findings, config: Config) -> Paragraph | str:
    if "classes720" not in f.variants:
        return ""
    e = f.variants["classes720"].errors
    # every mirror image is one more training clock, of another minute
    per_class = f.n_train * (2 if config.mirror_train else 1) / 720
    score = f"{e.mean():.1f} minutes (median {np.median(e):.1f})"
    if config.smooth720 > 0:
        return Paragraph(
            f"720 classes with soft targets (a circular Gaussian of {config.smooth720:g} minutes around the true "
            f"minute) scored {score}.",
            f"They had about {per_class:.0f} training clocks per class, and one-hot cross-entropy treats 3:14 as "
            f"just as wrong as 9:40 for a clock showing 3:15 (in a small run it stayed at chance); with the soft "
            f"targets near misses count as nearly right and each class learns from its neighbours' clocks too.")
    return Paragraph(f"720 classes scored {score}.",
                     f"They had about {per_class:.0f} training clocks per class and cross-entropy treats 3:14 as just "
                     f"as wrong as 9:40 for a clock showing 3:15.")


def _multihead(f: Findings) -> Paragraph | str:
    if "multihead" not in f.variants:
        return ""
    v, true = f.variants["multihead"], f.true
    # the minute alone, the short way round the hour (scaled onto the 720-minute dial and back)
    minute_right = np.asarray(common_sense_error(v.pred % 60 * 12, true % 60 * 12)) / 12 <= 5
    hour_only = (minute_right & (v.errors > 30)).mean()
    return Paragraph(
        f"Hour class + minute regression scored {v.mae:.1f} minutes. Its minute was within 5 minutes on "
        f"{minute_right.mean():.0%} of the test clocks, and {hour_only:.0%} had the minute right but the hour wrong "
        f"(more than 30 minutes off in all).",
        "The hour head has to read the short hand, which near a full hour sits almost on the next hour's mark.")


def _regression(f: Findings) -> str:
    """Why the regression is trained with a wrapped loss (the method), with how many readings it mattered for."""
    if "regression" not in f.variants:
        return ""
    v, true = f.variants["regression"], f.true
    crossed = int(((np.abs(v.pred - true) > 360) & (v.errors <= 15)).sum())
    return (f"Why the regression needs the cyclic loss: minutes 0-719 as a plain number make 11:58 (718) and 12:02 "
            f"(2) 716 apart, though the clocks are 4 minutes apart. A squared or absolute error on that number "
            f"punishes a good reading on the wrong side of 12 as the worst possible one, and a network unsure "
            f"whether it sees 11:58 or 12:02 minimises it by answering about 6:00, the one time that is certainly "
            f"six hours wrong. The wrapped loss used here measures the short way round instead; "
            f"{crossed} of the regression's test readings were within 15 minutes of the truth but on the other side "
            f"of 12 o'clock, which the plain loss would have scored as more than 360 minutes off.")


def _regression_result(f: Findings) -> Paragraph | str:
    if "regression" not in f.variants:
        return ""
    r, true = f.variants["regression"].errors, f.true
    if r.mean() < NEAR_CHANCE:
        near = np.minimum(true, 720 - true) <= 30
        return Paragraph(f"With the wrapped loss the regression's mean error on the {int(near.sum())} test clocks "
                         f"within 30 minutes of 12 o'clock was {r[near].mean():.1f} minutes, against "
                         f"{r[~near].mean():.1f} on the others.")
    return Paragraph(f"In this run the regression stayed close to chance ({r.mean():.1f} minutes against "
                     f"{CHANCE_MAE:.0f}).",
                     "One number on a circle has to jump somewhere from 12 back to 0, a seam that a smooth network "
                     "can only approximate, which makes it hard to fit from scratch. (sin, cos) pairs have no such "
                     "seam.")


def _curves(f: Findings) -> Paragraph:
    """How each variant's test error moved over the epochs, and whether it left chance."""
    parts, stuck = [], []
    for v in f.variants.values():
        curve = [h["test_mae"] for h in v.history]
        left = next((i + 1 for i, e in enumerate(curve) if e < NEAR_CHANCE), None)
        parts.append(f"{v.title} {curve[0]:.1f} after epoch 1, {min(curve):.1f} at best, {curve[-1]:.1f} "
                     f"at the end" + (f" (below 135, three quarters of chance, from epoch {left})" if left else
                                      " (never below 135, three quarters of chance)"))
        if left is None:
            stuck.append(v.title)
    epochs = max(len(v.history) for v in f.variants.values())
    lead = (f"Learning curves over {epochs} epoch(s): " + (
        f"{len(f.variants) - len(stuck)} of the {len(f.variants)} variants left chance (a test mean error below "
        f"135 minutes). Still near chance: {', '.join(stuck)}." if stuck else
        "every variant left chance (a test mean error below 135 minutes, three quarters of chance)."))
    return Paragraph(lead, "Test mean error per epoch: " + "; ".join(parts) + ".")
