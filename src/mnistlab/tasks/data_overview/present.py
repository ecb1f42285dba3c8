"""The data overview's findings as the report shows them: each split's size and mean pixel, the images per
class and per Task 6 group, the sample grids and the class balance (drawn by mnistlab.viz.data_overview)."""

from __future__ import annotations

from mnistlab.data import CLASS_NAMES, DATASETS, FASHION_GROUP_NAMES
from mnistlab.tasks.base import Context, Result, Table
from mnistlab.tasks.data_overview.config import Config
from mnistlab.tasks.data_overview.findings import CLASSES, Findings, metrics
from mnistlab.viz.data_overview import plot_class_balance, plot_samples


def _groups_caption(f: Findings) -> str:
    groups = ", ".join(f"{g} {{{','.join(str(c) for c in items)}}}"
                       for g, items in zip(FASHION_GROUP_NAMES, f.group_items, strict=True))
    return f"The brief's {len(f.group_items)} Fashion-MNIST groups for Task 6: {groups}."


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    f = findings
    result = Result(metrics=metrics(f))
    for name in DATASETS:
        k = config.samples_per_class
        result.figures.append(ctx.figure(
            plot_samples(f.samples[name], CLASS_NAMES[name], f"{name}: the first {k} training images of each class"),
            f"samples_{name}", f"The first training images of each {name} class."))
        train, test = f.counts[(name, "train")], f.counts[(name, "test")]
        result.tables[f"counts_{name}"] = Table(
            ["class", "train", "test"], [[CLASS_NAMES[name][c], int(train[c]), int(test[c])] for c in range(CLASSES)],
            f"{name}: images per class in each split.")
    result.figures.append(ctx.figure(
        plot_class_balance({name: (f.counts[(name, "train")], f.counts[(name, "test")]) for name in DATASETS},
                           CLASS_NAMES),
        "class_balance", "Share of each class in the train and test splits."))
    items = CLASS_NAMES["fashion-mnist"]
    result.tables["fashion_groups"] = Table(
        ["group (Task 6)", "items", "train images"],
        [[g, ", ".join(items[c] for c in members), int(f.group_counts[i])]
         for i, (g, members) in enumerate(zip(FASHION_GROUP_NAMES, f.group_items, strict=True))],
        _groups_caption(f))
    return result
