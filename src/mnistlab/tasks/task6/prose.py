"""Task 6's discussion, paragraphs by id, written from its findings: each paragraph that states a result
leads with its finding (`Paragraph`); the setup, the recipe, the batch size, the speed and the
considerations say how the run was made and declare none."""

from __future__ import annotations

import math

from mnistlab.data import CLASS_NAMES
from mnistlab.models.mtl import GROUP_CLASSES, ITEM_CLASSES
from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.task6.config import TASK_WORDS, Config, lam_name
from mnistlab.tasks.task6.findings import CHANCE, Findings, best_mixed
from mnistlab.train import precision_words
from mnistlab.weighting import LEARNED, weighting_class

# What the best mixed lambda should reach in a full brief run (all data, the brief's 5 epochs).
BAR = {"item": 0.91, "group": 0.95}

SCHEDULE_WORDS = {"linear": "linearly", "cosine": "along a cosine"}
AUGMENT_WORDS = {"shift": "shifted", "flip-shift": "shifted and mirrored"}


def _pct(fraction: float) -> str:
    """An accuracy given as a fraction, in percent: 0.9125 -> '91.25%'."""
    return f"{100 * fraction:.2f}%"


def pp_of_fraction_gap(gap: float) -> str:
    """A difference of two accuracies given as fractions, in signed percentage points: 0.0125 -> '+1.25 pp'."""
    return f"{100 * gap:+.2f} pp"


def bar_text(config: Config, best: dict) -> str:
    """Whether the best mixed lambda met the bar; empty for runs on subsets or fewer epochs."""
    if config.train_limit is not None or config.test_limit is not None or config.epochs < 5:
        return ""
    missed = [f"{task} {_pct(best[task])} < {BAR[task]:.0%}" for task in BAR if best[task] < BAR[task]]
    return (f" That meets the bar this lab sets for a full brief run ({BAR['item']:.0%} items and "
            f"{BAR['group']:.0%} groups for the best lambda)." if not missed else
            f" That misses the bar this lab sets for a full brief run ({BAR['item']:.0%} items and "
            f"{BAR['group']:.0%} groups for the best lambda): {', '.join(missed)}.")


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id, the results first: 'setup' (how the networks were trained), then the
    findings 'best_mixed' (the best mixed lambda, chosen on validation), 'extremes' (lambda = 0 and 1),
    'learned_<strategy>' (each learned weighting) and 'errors' (where the best mixed lambda's errors fall),
    then 'recipe', 'batch', 'speed' and 'considerations'. A paragraph whose subject did not run is left out."""
    parts: dict[str, str] = {"setup": _setup_text(f, config), "best_mixed": _best_mixed_text(f, config),
                             "extremes": _extremes_text(f)}
    parts.update({f"learned_{r['strategy']}": _learned_text(f, config, r) for r in f.learned})
    parts.update(errors=_errors_text(f), recipe=_recipe_text(f, config), batch=_batch_text(f, config),
                 speed=_speed_text(f, config), considerations=_considerations_text())
    return {k: v for k, v in parts.items() if v}


def _setup_text(f: Findings, config: Config) -> str:
    n_train, n_val = config.split_sizes()
    probed = any(p["name"] != "default" for p in f.probes)
    return (
        f"Setup: Fashion-MNIST scaled to [0, 1], {n_train:,} training, {n_val:,} validation (the last of the "
        f"training file, used only to choose the best lambda) and {f.n_test:,} test images; item labels "
        f"(10 classes) and the brief's group labels (shoes / gendered / unisex). Every network"
        + (" but the probes below" if probed else "") + " is trained with "
        f"Adam (lr {config.lr:g}, {config.lr_schedule} schedule, augmentation {config.augment}) for "
        f"{config.epochs} epoch(s) at batch {config.batch_size}, in {precision_words(config.precision)}, "
        f"from the same seed; all MTL networks start from identical weights, so rows differ only in how "
        f"the two losses are combined. The single-task CNNs have {f.single['item']['params']:,} (items) and "
        f"{f.single['group']['params']:,} (groups) parameters; one MTL network has {f.params_mtl:,}, "
        f"{f.params_two - f.params_mtl:,.0f} ({f.saving_pct:.1f}%) fewer than the pair, because the 6,272 x 3,136 "
        f"dense layer (19.7 M weights) is shared instead of duplicated.")


def _untrained_task(r: dict) -> tuple[str, str]:
    """(the task whose loss has weight 0, the task trained) of the lambda = 1 or lambda = 0 network."""
    return ("group", "item") if r["lambda"] == 1.0 else ("item", "group")


def _untrained_score(f: Findings, r: dict) -> str:
    """How the untrained head of lambda = 0 or 1 scores, beside chance."""
    untrained, _ = _untrained_task(r)
    return (f"the {untrained} head at lambda = {lam_name(r['lambda'])} scores {_pct(r[untrained])} ({untrained} "
            f"chance {CHANCE[untrained]:.0%}" + (f", majority class {f.majority_group:.0%}" if untrained == "group"
                                                 else "") + ")")


def _extreme_part(f: Findings, r: dict) -> str:
    """Why the head of lambda = 0 or 1 is untrained, and what the other task, a single-task CNN, reaches."""
    untrained, trained = _untrained_task(r)
    baseline = f.s_item if trained == "item" else f.s_group
    n_classes = ITEM_CLASSES if untrained == "item" else GROUP_CLASSES
    used = r.get("untrained_classes_used")
    below = r[untrained] < CHANCE[untrained] / 2
    return (
        f"At lambda = {lam_name(r['lambda'])} the {untrained} loss has weight 0, so the {untrained} head "
        f"receives exactly zero gradient (its largest weight change is {r.get('head_change', math.nan):.1g})"
        + (f"; its score is far below chance rather than at it: its random weights send whole clusters of the "
           f"trunk's trained features to a few classes ({used} of {n_classes} take at least 1% of the test images "
           f"each), and which class a cluster lands on is luck, here mostly the wrong one"
           if below and used is not None else "")
        + f"; the {trained} task reaches {_pct(r[trained])} against {_pct(baseline)} for its single-task CNN")


def _extremes_text(f: Findings) -> str:
    ends = [r for r in f.fixed if r["lambda"] in (0.0, 1.0)]
    if not ends:
        return ""
    at = " and ".join(f"lambda = {lam_name(r['lambda'])}" for r in ends)
    return Paragraph(
        f"At {at} the head whose loss has weight 0 is never trained: "
        + "; ".join(_untrained_score(f, r) for r in ends) + ".",
        "What makes lambda = 0 and lambda = 1 special: they are not multi-task learning at all. "
        + ". ".join(_extreme_part(f, r) for r in ends) + ". Each is a single-task network with a shared 3,136 "
        "layer and an unused head whose random weights read features that were never shaped for its task."
        + (" At lambda = 1 the MTL network is even numerically the single-task item CNN: the same seed "
           "builds the same trunk and item head, and a zero-weighted head changes nothing, so both "
           "score exactly the same."
           if any(r["lambda"] == 1.0 and r["item"] == f.s_item for r in ends) else ""))


def _at_lambdas(names: list[str]) -> str:
    return f"at lambda = {', '.join(names)}" if names else "at none of them"


def _best_mixed_text(f: Findings, config: Config) -> str:
    inner = [r for r in f.fixed if 0 < r["lambda"] < 1]
    best = best_mixed(f.rows)
    if best is None:
        return ""
    s_item, s_group = f.s_item, f.s_group
    helped_item = [lam_name(r["lambda"]) for r in inner if r["item"] > s_item]
    helped_group = [lam_name(r["lambda"]) for r in inner if r["group"] > s_group]
    bar = bar_text(config, best)
    return Paragraph(
        f"Best mixed lambda, chosen on validation: {lam_name(best['lambda'])}, with test accuracies of items "
        f"{_pct(best['item'])} ({pp_of_fraction_gap(best['item'] - s_item)} against the single-task CNN) and groups "
        f"{_pct(best['group'])} ({pp_of_fraction_gap(best['group'] - s_group)}).",
        (bar.lstrip() + " " if bar else "")
        + f"It is the mixed lambda with the largest sum of both validation accuracies, on the last "
        f"{config.val_fraction:.0%} of the training images, which no network trained on; the test set chose "
        f"nothing. Of the mixed values lambda = {', '.join(lam_name(r['lambda']) for r in inner)}, MTL scored above "
        f"the single-task item CNN {_at_lambdas(helped_item)} and above the single-task group CNN "
        f"{_at_lambdas(helped_group)} (raw differences; whether any is more than noise is tested in the comparisons "
        f"table). An accuracy of {_pct(s_item)} measured on {f.n_test:,} test images carries a 95% sampling "
        f"interval of about +/-{100 * 1.96 * math.sqrt(s_item * (1 - s_item) / f.n_test):.1f} pp, "
        f"so only gaps beyond that say that MTL helped or hurt. "
        f"The group label is a function of the item label, so an item classifier is also a group classifier: "
        f"the single-task item CNN, read through the brief's mapping, gets {_pct(f.single['item_as_group'])} on "
        f"groups against {_pct(s_group)} for the dedicated group CNN. The group task therefore brings the item "
        f"task no new labels, only a different emphasis on which confusions matter (shirt vs T-shirt crosses "
        f"groups, sandal vs sneaker does not), while the item task gives the group task a finer signal.")


def _learned_text(f: Findings, config: Config, r: dict) -> str:
    method = weighting_class(r["strategy"])
    drift = ""
    if method.adapts_weights:
        drift = (f" Its weights move at the model's lr {config.lr:g}, so over this short schedule it stayed close "
                 "to equal weighting." if abs(r["eff_lambda"] - 0.5) <= 0.05 else
                 f" In {config.epochs} epoch(s) it moved well away from equal weighting, towards the "
                 f"{'group' if r['eff_lambda'] < 0.5 else 'item'} task.")
    half = next((x["spe"] for x in f.fixed if x["lambda"] == 0.5), None)
    return Paragraph(
        f"MTL with {method.title} reached items {_pct(r['item'])} ({pp_of_fraction_gap(r['item'] - f.s_item)} vs "
        f"single) and groups {_pct(r['group'])} ({pp_of_fraction_gap(r['group'] - f.s_group)}).",
        method.describe(r["state"], TASK_WORDS) + f" It trained at {r['spe']:.0f} s per epoch"
        + (f" against {half:.0f} s for fixed lambda = 0.5." if half is not None else ".") + drift)


def _errors_text(f: Findings) -> str:
    e = f.errors
    if e is None:
        return ""
    names = CLASS_NAMES["fashion-mnist"]
    lead = (f"Where the errors are ({e.title}): {e.errors} of {f.n_test:,} test items are misclassified, and "
            f"{e.crossing} of those ({e.crossing_pct:.0f}%) land in another group, so they are group errors too.")
    if not e.pairs:
        return Paragraph(lead)
    commonest = ", ".join(f"{names[t]} as {names[p]} ({n})" for t, p, n in e.pairs[:4])
    return Paragraph(lead, f"The commonest crossings: {commonest}"
                     f". {e.shoe_cross} of the crossings involve shoes; the rest are between gendered (dress, shirt, "
                     "bag) and unisex items (T-shirt, trouser, pullover, coat). Wherever the item task confuses two "
                     "items of different groups, the group task faces the same confusion.")


def _recipe_words(config: Config) -> str:
    return (f"Adam with lr {config.lr:g}"
            + (f" decayed {SCHEDULE_WORDS.get(config.lr_schedule, config.lr_schedule)} to 0 over the run"
               if config.lr_schedule != "constant" else " held constant")
            + ("" if config.augment == "none" else
               ", training images randomly shifted by up to 2 px"
               + (" and mirrored left-right" if config.augment == "flip-shift" else "")))


def _recipe_reasons(f: Findings, config: Config) -> str:
    """Why the recipe helped: only the parts of it that this run used."""
    reasons = []
    if config.lr_schedule != "constant":
        reasons.append(f"a constant lr of {config.lr:g} leaves Adam bouncing around the minimum at the end of a "
                       "short run; decaying it lets the last epoch settle")
    if config.augment != "none":
        reasons.append(f"the {AUGMENT_WORDS[config.augment]} images keep the {f.params_mtl / 1e6:.0f} M-parameter "
                       "network from memorising the training set")
    text = ", and ".join(reasons)
    return text[:1].upper() + text[1:] + "."


def _recipe_text(f: Findings, config: Config) -> str:
    ref = next((p for p in f.probes if p["name"] == "default"), None)
    plain = next((p for p in f.probes if p["name"] == "plain"), None)
    if plain is not None and ref is not None:
        d_item, d_group = ref["item"] - plain["item"], ref["group"] - plain["group"]
        return (
            f"Training recipe: the brief fixes the optimiser (Adam, lr {config.lr:g} 'e.g.') and the epochs, not the "
            f"schedule; this run uses {_recipe_words(config)}. Trained the brief's plain way (constant lr, no "
            f"augmentation) the lambda = 0.5 network reached items {_pct(plain['item'])} and groups "
            f"{_pct(plain['group'])}; with this run's recipe {_pct(ref['item'])} and {_pct(ref['group'])} "
            f"({pp_of_fraction_gap(d_item)} and {pp_of_fraction_gap(d_group)}), at {ref['spe']:.0f} against "
            f"{plain['spe']:.0f} s per epoch. "
            + (_recipe_reasons(f, config) if d_item > 0 and d_group > 0 else
               "Here the recipe did not improve both tasks, so this run is no evidence for it."))
    if config.lr_schedule != "constant" or config.augment != "none":
        return (f"Training recipe: {_recipe_words(config)} (the extended profile also trains the lambda = 0.5 "
                "network with a constant lr and no augmentation, recipe_probe, to measure what that is worth).")
    return ""


def _batch_text(f: Findings, config: Config) -> str:
    ref = next((p for p in f.probes if p["name"] == "default"), None)
    batch = [p for p in f.probes if p["name"].startswith("batch_")]
    if not batch:
        return (f"Batch size: no batch-size probe in this run; all networks use batch {config.batch_size}. "
                "The extended profile also trains the lambda = 0.5 network at the brief's example batch 10 "
                "(batch_probe) and compares accuracy and time.")
    if ref is None:
        return ""
    parts = [f"batch {p['batch']}: items {_pct(p['item'])}, groups {_pct(p['group'])}, {p['spe']:.0f} s per "
             f"epoch ({p['spe'] / ref['spe']:.1f}x the time of batch {config.batch_size})" for p in batch]
    gain = max(max(p["item"] - ref["item"], p["group"] - ref["group"]) for p in batch)
    faster = all(p["spe"] > ref["spe"] for p in batch)
    if gain <= 0.005 and faster:
        verdict = f"so batch {config.batch_size} was at least as accurate (within 0.5 pp) and faster"
    elif faster:
        verdict = (f"so in this run a smaller batch bought up to {100 * gain:.1f} pp of accuracy at the cost of "
                   f"time; weigh that against the time column")
    else:
        verdict = "so in this run the default batch was not the faster one (see the table)"
    return (
        f"Batch size: the brief suggests 10 as an example. The lambda = 0.5 network at the default batch "
        f"{config.batch_size} reached items {_pct(ref['item'])}, groups {_pct(ref['group'])} at "
        f"{ref['spe']:.0f} s per epoch; " + "; ".join(parts) + f", {verdict}. At batch 10 a "
        f"{f.params_mtl / 1e6:.0f} M-parameter network spends most of each step in the optimiser (one Adam update "
        f"per 10 images), and the large matrix products run far below the processor's peak on 10 rows at a time. "
        f"Batch 10 stays available: --set task6.batch_size=10.")


def _speed_text(f: Findings, config: Config) -> str:
    n_train, _ = config.split_sizes()
    spe = ", ".join(f"{r['name'].replace('_', ' ')} {r['spe']:.0f} s" for r in f.rows)
    pair_spe = f.single["item"]["seconds_per_epoch"] + f.single["group"]["seconds_per_epoch"]
    ratio = sum(r["spe"] for r in f.fixed) / max(len(f.fixed), 1) / pair_spe
    return (
        f"Speed: seconds per epoch on {n_train:,} images, timed while each network trained ("
        + (f"{f.cache_hits} of them loaded from the cache keep the time of the run that trained them; "
           if f.cache_hits else
           f"all in this run, 1-minute load average {f.loads[0]:.1f} at the start and {f.loads[1]:.1f} at the end; ")
        + "on a machine shared with other jobs a timing can vary 2x with the load): "
        f"single item {f.single['item']['seconds_per_epoch']:.0f} s, single group "
        f"{f.single['group']['seconds_per_epoch']:.0f} s, MTL {spe}. One fixed-lambda MTL network costs on average "
        f"{ratio:.2f}x the time of training both single-task networks"
        + (", since the expensive trunk runs once for both tasks." if ratio < 1 else
           "; in this run it was not cheaper than the pair, which a loaded machine can cause."))


def _considerations_text() -> str:
    return ("Considerations: hard sharing saves parameters and training time and acts as a regulariser when the "
            "tasks are related (as here); its risks are negative transfer when tasks compete for the shared "
            "capacity, and a loss weight (lambda) that has to be tuned because the two losses have different scales "
            "and difficulties. Learned weightings replace that search with a rule: "
            + "; ".join(weighting_class(name).idea for name in LEARNED) + ".")
