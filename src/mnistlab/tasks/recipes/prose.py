"""The recipes experiment's discussion, paragraphs by id, written from its findings.

A paragraph's finding quotes numbers over the task's seeds: each network's test accuracy with the recipe chosen
on validation, and the comparisons that survive the adjustment across seeds. A comparison of two trained
networks with one seed (McNemar's test, "one training run each") stays in the detail: it cannot tell recipes
apart. In the quick profile no comparison is a finding: its subsets and 1-2 epochs test the machinery."""

from __future__ import annotations

from mnistlab.analysis.contrasts import EQUIVALENT, ContrastResult
from mnistlab.analysis.stats import p_text, t_interval
from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.recipes.config import DIGIT_NETWORKS, NETWORK_NAMES, Config
from mnistlab.tasks.recipes.findings import GOALS, Findings, NetFindings
from mnistlab.tasks.recipes.plan import arm_label

QUICK_CAVEAT = "quick profile: subsets and 1-2 epochs, so these test the machinery, not the ingredients"


def interval_text(values: list[float]) -> str:
    """Accuracies over seeds as 'mean ± 95% half-width' in percent (one value as it is)."""
    if len(values) == 1:
        return f"{100 * values[0]:.2f}%"
    iv = t_interval(values)
    return f"{100 * iv.mean:.2f} ± {100 * iv.half_width:.2f}%"


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'chosen' (each network's test accuracy with the recipe chosen on
    validation), 'recipe' (the full recipe against the brief's), 'ingredients' (what each ingredient bought),
    'mtl' (the MTL network against the single-task CNNs) and 'setup' (how the run was made: no finding). A
    paragraph whose networks did not run is left out; 'recipe', 'ingredients' and 'mtl' state a finding only
    with comparisons across seeds."""
    singles = {net: nf for net, nf in f.nets.items() if net != "mtl"}
    parts = {"chosen": _chosen(f) if singles else "", "recipe": _recipe(f),
             "ingredients": _ingredients(f) if any(net in f.nets for net in DIGIT_NETWORKS) else "",
             "mtl": _mtl(f), "setup": _setup(f, config)}
    return {k: v for k, v in parts.items() if v}


def _seeds_words(n: int) -> str:
    return f"mean ± 95% over {n} seeds" if n > 1 else "one seed"


def _effect(o: ContrastResult) -> str:
    """A - B of a tested comparison with its 95% half-width and its adjusted p."""
    c = o.comparison
    return f"{100 * c.difference:+.2f} ± {100 * c.half_width:.2f} points (adjusted {p_text(o.p_adjusted)})"


def _chosen(f: Findings) -> Paragraph:
    nets = {net: nf for net, nf in f.nets.items() if net != "mtl"}
    n = max(len(nf.seeds) for nf in nets.values())

    def chosen(net: str, nf: NetFindings) -> str:
        values = nf.values(nf.chosen)  # a minus-one arm may have run over fewer seeds: said so
        fewer = "" if len(values) == n else f", {'one seed' if len(values) == 1 else f'{len(values)} seeds'}"
        return f"{NETWORK_NAMES[net]} {interval_text(values)} ({arm_label(nf.chosen)}{fewer})"

    lead = (f"Test accuracy with the recipe chosen on validation ({_seeds_words(n)}): "
            + "; ".join(chosen(net, nf) for net, nf in nets.items()) + ".")
    goals = [f"{words}: " + ("not judged (quick profile)" if f.smoke else "met" if f.goal_met(net, target)
                             else "not met") for net, target, words in GOALS if net in f.nets]
    return Paragraph(lead, "Each network's recipe was chosen among those it was trained with by its mean accuracy "
                           "on the validation images; the test set played no part."
                     + (f" Issue 28's goals, as means over the seeds: {'; '.join(goals)}." if goals else ""))


def _across(tested: list[tuple[str, ContrastResult]], smoke: bool) -> list[tuple[str, ContrastResult]]:
    """The comparisons among `tested` made across seeds (none in the quick profile)."""
    return [] if smoke else [(what, o) for what, o in tested if o.across_seeds and o.comparison is not None]


def _recipe(f: Findings) -> Paragraph | str:
    tested = [(NETWORK_NAMES[net], nf.outcomes["brief"]) for net, nf in f.nets.items() if "brief" in nf.outcomes]
    if f.mtl is not None:  # the MTL network at its chosen lambda, per head
        tested += [(f"MTL {head}s", o) for head, o in f.mtl.recipe.items()]  # its lambda: the 'mtl' paragraph
    if not tested:
        return ""
    detail = ("The full recipe against the brief's" + (f" ({QUICK_CAVEAT.replace('ingredients', 'recipes')})"
                                                       if f.smoke else "")
              + ": " + "; ".join(o.text for _, o in tested) + ".")
    across = _across(tested, f.smoke)
    if not across:
        return detail
    found = [f"{what} {_effect(o)}" for what, o in across if o.detected]
    quiet = [what for what, o in across if not o.detected]
    lead = (f"The full recipe minus the brief's in test accuracy over {across[0][1].comparison.n} seeds (p "
            "Holm-adjusted per network): "
            + ("; ".join(found) + (f"; not detectable for {', '.join(quiet)}" if quiet else "") if found
               else f"no difference detectable in any of the {len(across)} comparisons") + ".")
    return Paragraph(lead, detail)


def _ingredients(f: Findings) -> Paragraph | str:
    tested = [(f"{NETWORK_NAMES[net]}, {arm.removeprefix('minus-')}", o) for net in DIGIT_NETWORKS if net in f.nets
              for arm, o in f.nets[net].outcomes.items() if arm != "brief"]
    head = (f"What each ingredient bought (the full recipe against the full recipe without it; {QUICK_CAVEAT}): "
            if f.smoke else "What each ingredient bought (the full recipe against the full recipe without it): ")
    detail = head + ("; ".join(f"{what}: {o.text}" for what, o in tested) if tested
                     else "no ingredient was ablated in this profile") + "."
    across = _across(tested, f.smoke)
    if not across:
        return detail
    found = [f"{what} {_effect(o)}" for what, o in across if o.detected]
    lead = ("Ingredients across seeds (the full recipe minus the full recipe without one, p adjusted within each "
            "network's comparisons): "
            + ("; ".join(found) + (f"; the other {len(across) - len(found)} effects tested are not detectable"
                                   if len(found) < len(across) else "") if found
               else f"none of the {len(across)} effects tested is detectable") + ".")
    return Paragraph(lead, detail)


def _mtl(f: Findings) -> Paragraph | str:
    if f.mtl is None:
        return ""
    m = f.mtl
    heads = [(head, o) for head, o in (("item", m.item), ("group", m.group)) if o is not None]
    found = []
    for head, o in _across(heads, f.smoke):
        if o.equivalence_word == EQUIVALENT:
            found.append(f"{head}s equivalent within ±{100 * o.contrast.margin:.2f} points")
        elif o.detected:
            found.append(f"{head}s {_effect(o)}")
    lead = (f"The MTL network at lambda {m.lam:g} (chosen on validation): items {interval_text(m.item_acc)}, groups "
            f"{interval_text(m.group_acc)} ({_seeds_words(len(m.item_acc))})"
            + (f"; MTL minus the single-task CNNs across the seeds: {', '.join(found)}" if found else "") + ".")
    detail = ("Against the single-task CNNs, all at the full recipe"
              + (f" ({QUICK_CAVEAT.replace('ingredients', 'networks')})" if f.smoke else "") + ": "
              + "; ".join(o.text for _, o in heads) + "." if heads else "")
    return Paragraph(lead, detail)


def _setup(f: Findings, config: Config) -> str:
    n_train, n_val = config.split_sizes()
    seeds = next(iter(f.nets.values())).seeds
    return (f"How the recipes were compared: every network trained on the first {n_train:,} training images and was "
            f"validated on the last {n_val:,}, which none trained on. Each recipe ran over seed"
            + (f"s {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f" {seeds[0]}")
            + " (the task's own `seeds`; an ablation or a lambda may run over fewer: the ablation table gives each "
            "recipe's count); the comparisons are paired t-tests across those "
            "seeds, or with one seed McNemar's test on two trained networks' test predictions, which compares those "
            "networks, not the recipes. Every choice (recipe, lambda, epoch) reads validation accuracy only."
            + (" Quick profile: subsets and 1-2 epochs, so its numbers test the machinery." if f.smoke else ""))
