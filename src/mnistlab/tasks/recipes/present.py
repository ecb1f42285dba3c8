"""The recipes experiment's findings as the report shows them: metrics, the ablation, MTL, choice and goals
tables, the learning curves (mnistlab.viz.recipes), and the published figures that stand beside ours."""

from __future__ import annotations

import numpy as np

from mnistlab.analysis.contrasts import ContrastResult
from mnistlab.analysis.published import BRIEF_MLP, CNN1, cite
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.recipes.config import DIGIT_NETWORKS, NETWORK_NAMES, Config
from mnistlab.tasks.recipes.findings import GOALS, Findings, NetFindings, metrics
from mnistlab.tasks.recipes.plan import arm_label, brief_arm
from mnistlab.tasks.recipes.prose import interval_text
from mnistlab.viz.recipes import plot_recipe_curves

PUBLISHED = (
    cite(f"{BRIEF_MLP}: test accuracy", "97.36%", "Report A", "mlp_chosen_test_acc",
         "batch 300, 10 epochs, the brief's recipe; ours: the recipe chosen on validation, mean over seeds"),
    cite(f"{CNN1}: test accuracy", "99.08%", "Report B", "cnn1_chosen_test_acc",
         "one run, batch and epochs not stated; ours: the recipe chosen on validation, mean over seeds"),
    cite("the best CNN variant of their sweep ([128, 128, 128]): test accuracy", "99.25%", "Report B", "",
         "a wider network than CNN-1, one run"),
    cite("single-task CNN, items: test accuracy", "90.85%", "Report B", "item_chosen_test_acc", "one run"),
    cite("single-task CNN, groups: test accuracy", "94.70%", "Report B", "group_chosen_test_acc", "one run"),
    cite("MTL lambda 0.25, groups: test accuracy", "95.16%", "Report B", "mtl_chosen_group_test_acc",
         "one run; ours: the MTL network at the lambda chosen on validation"),
    cite("single-task CNN, items: test accuracy", "91.4%", "Report A", "item_chosen_test_acc", "one run"),
    cite("single-task CNN, groups: test accuracy", "92.9%", "Report A", "group_chosen_test_acc", "one run"),
    cite("a different, larger MNIST CNN (32C3-32C3-32C5S2, 64C3-64C3-64C5S2, 128, 10) with batch norm, "
         "40% dropout, rotation/zoom/shift augmentation, decaying lr, 30 epochs: mean test accuracy",
         "99.64% (a larger CNN, mean of 100 runs; sd 0.047; best 99.81%)", "Deotte", "cnn1_chosen_test_acc",
         "published reference, not ours: mean of 100 runs of another network; ours is CNN-1 (227,306 "
         "parameters) with our recipe"),
    cite("Fashion-MNIST items, 2-conv network under 100k parameters", "92.5%", "zalando", "item_chosen_test_acc",
         "published reference, not ours: another network; ours is Task 6's single-task item CNN (23 M "
         "parameters)"),
    cite("Fashion-MNIST items, 2-conv + 3 dense network, 1.8 M parameters", "93.2%", "zalando",
         "item_chosen_test_acc", "published reference, not ours: another network"),
    cite("Fashion-MNIST items, ResNet18 to WRN40-4 (with augmentation)", "94.9-96.7%", "zalando", "",
         "published reference, not ours: residual networks far deeper than the brief's"),
)


def _difference_text(o: ContrastResult | None) -> tuple[str, str]:
    c = o.comparison if o is not None else None
    if c is None:
        return "-", "-"
    p = o.p_adjusted if o.adjustment else c.p  # adjusted within the network's ablation family where it has one
    return f"{100 * c.difference:+.2f} ± {100 * c.half_width:.2f}", (f"{p:.4f}" if p >= 0.0001 else "< 0.0001")


def _val_text(values: list[float]) -> str:
    return f"{100 * float(np.mean(values)):.2f}%"


def _ablation_table(f: Findings) -> Table:
    rows = []
    for net, nf in f.nets.items():
        if net == "mtl":
            continue
        for arm in nf.scores[nf.seeds[0]]:
            test, seconds = nf.values(arm), nf.values(arm, "seconds")
            diff, p = _difference_text(nf.outcomes.get(arm))
            rows.append([NETWORK_NAMES[net], arm_label(arm), len(test), interval_text(test),
                         _val_text(nf.values(arm, "val_acc")), diff, p,
                         nf.outcomes[arm].text if arm in nf.outcomes else "(the reference)",
                         round(float(np.mean(seconds)), 1)])
    return Table(
        ["network", "recipe", "seeds", "test acc (mean ± 95%)", "val acc", "full minus this, points (95%)",
         "p (Holm-adjusted)", "verdict", "training s per network"], rows,
        "Each recipe of each network over its seeds: test accuracy as the mean with its 95% t-interval, and its "
        "difference from the full recipe (paired t-test across seeds; with one seed McNemar's test on the test "
        "predictions, and 'not tested' for an arm read from the full recipe's own networks). 'full minus tta' and "
        "'full minus select' are the full recipe's networks scored without test-time views, and at their last "
        "epoch; their training time is the full recipe's.")


def _mtl_table(f: Findings, config: Config) -> Table:
    mtl, rows = f.mtl, []
    lam = f"lambda {mtl.lam:g}"
    for head in ("item", "group"):
        own = mtl.item_acc if head == "item" else mtl.group_acc
        single = getattr(mtl, head)
        if single is not None:
            rows.append([head, f"MTL at {lam} against the single-task {head} CNN, both at the full recipe",
                         interval_text(own), interval_text(f.nets[head].values("full")), *_difference_text(single),
                         single.text])
        if head in mtl.recipe:
            rows.append([head, f"MTL at {lam}: the full recipe against the brief's", interval_text(own),
                         interval_text(mtl.brief_acc[head]), *_difference_text(mtl.recipe[head]),
                         mtl.recipe[head].text])
    return Table(["head", "comparison", "first", "second", "first minus second, points (95%)", "p (Holm-adjusted)",
                  "verdict"], rows,
                 f"Task 6's multi-task network at the lambda chosen on validation among its full-recipe networks "
                 f"({mtl.lam:g} of {', '.join(f'{lam:g}' for lam in config.lambdas)}): against the single-task "
                 "CNNs (with the equivalence margin), and against itself at the brief's recipe and the same lambda. "
                 "Each pair of comparisons is one family for the adjustment.")


def _choice_table(f: Findings) -> Table:
    rows = [[NETWORK_NAMES[net], arm_label(nf.chosen), _val_text(nf.values(nf.chosen, "val_acc")),
             interval_text(nf.values(nf.chosen))] for net, nf in f.nets.items() if net != "mtl"]
    if f.mtl is not None:
        mtl = f.nets["mtl"]
        rows.append([NETWORK_NAMES["mtl"], f"full recipe at lambda {f.mtl.lam:g}",
                     f"{_val_text(mtl.values(mtl.chosen, 'val_acc'))} (mean of both heads)",
                     f"items {interval_text(f.mtl.item_acc)}, groups {interval_text(f.mtl.group_acc)}"])
    return Table(["network", "recipe chosen on validation", "its validation accuracy", "its test accuracy"], rows,
                 "One recipe per network, chosen on the validation images (the last tenth of the training images) "
                 "among the recipes it was trained with; the test set plays no part.")


def _goals_table(f: Findings) -> Table:
    rows = []
    for net, target, words in GOALS:
        if net in f.nets:
            met = "not judged (quick profile)" if f.smoke else ("met" if f.goal_met(net, target) else "not met")
            rows.append([words, interval_text(f.nets[net].values(f.nets[net].chosen)), met])
    if f.mtl is not None:
        for head, o in (("item", f.mtl.item), ("group", f.mtl.group)):
            if o is None or o.comparison is None:
                continue
            c = o.comparison
            worse = o.detected and c.difference < 0  # after the two heads' adjustment
            judged = "not met" if worse else ("met" if o.equivalence_word != "undecided" or c.difference >= 0
                                              else "undecided (more seeds would tell)")
            rows.append([f"the MTL network no worse than the single-task {head} CNN",
                         f"{100 * c.difference:+.2f} ± {100 * c.half_width:.2f} points",
                         "not judged (quick profile)" if f.smoke else judged])
    return Table(["goal (issue 28)", "measured (recipe chosen on validation)", "verdict"], rows,
                 "The goals as means over the seeds on the untouched test set.")


def _curves_figure(f: Findings, ctx: Context) -> Figure:
    """Test accuracy per epoch, the brief's recipe against the full one, mean over the seeds, per network (the
    MTL network per head, at the lambda chosen on validation)."""
    def mean_curve(nf: NetFindings, arm: str, key: str) -> np.ndarray:
        return np.mean([[h[key] for h in nf.scores[s][arm]["history"]] for s in nf.seeds if arm in nf.scores[s]],
                       axis=0)

    curves = {}
    for net, nf in f.nets.items():
        if net != "mtl":
            key = "test_acc" if net in DIGIT_NETWORKS else f"test_acc_{net}"
            curves[NETWORK_NAMES[net]] = {arm_label(arm): mean_curve(nf, arm, key) for arm in ("brief", "full")}
        elif f.mtl is not None and f.mtl.recipe:
            arms = {"brief's recipe": brief_arm(nf.chosen), "full recipe": nf.chosen}
            for head in ("item", "group"):
                curves[f"MTL network (lambda {f.mtl.lam:g}), {head}s"] = {
                    label: mean_curve(nf, arm, f"test_acc_{head}") for label, arm in arms.items()}
    return ctx.figure(plot_recipe_curves(curves), "curves",
                      "Test accuracy after each epoch, the brief's recipe (dashed) against the full recipe (solid; "
                      "its scored weights are the moving average), mean over the seeds. The networks keep the epoch "
                      "chosen on validation, not the last one.")


def present(f: Findings, config: Config, ctx: Context) -> Result:
    """The metrics, the tables (ablation, MTL, choice, goals) and the learning curves."""
    tables = {"ablation": _ablation_table(f)}
    if f.mtl is not None:
        tables["mtl"] = _mtl_table(f, config)
    tables["choice"] = _choice_table(f)
    tables["goals"] = _goals_table(f)
    return Result(metrics=metrics(f), tables=tables, figures=[_curves_figure(f, ctx)])
