"""The baselines' findings as the report shows them: metrics, the models and untangling tables, the figures
(mnistlab.viz.untangling), and Report D's published accuracies beside ours."""

from __future__ import annotations

from mnistlab.analysis.published import BASELINES_RECIPE, cite
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.baselines.config import Config
from mnistlab.tasks.baselines.findings import Findings, metrics
from mnistlab.viz.untangling import plot_embeddings, plot_measures

PUBLISHED = (
    cite("softmax regression (7,850 parameters): test accuracy", "92.31%", "Report D", "softmax_report_d_test_acc",
         BASELINES_RECIPE),
    cite("MLP, 100 sigmoid units (79,510 parameters): test accuracy", "95.01%", "Report D",
         "mlp_report_d_test_acc", f"best of 5 runs; {BASELINES_RECIPE}"),
    cite("5x5 sigmoid CNN (366,806 parameters): test accuracy", "97.94%", "Report D",
         "cnn_report_d_test_acc", BASELINES_RECIPE),
)


def _tables(f: Findings, config: Config) -> dict[str, Table]:
    models = Table(
        ["model", "parameters", "train acc", "test acc", "train s / epoch"],
        [[m.label, m.params, round(m.train_acc, 4), round(m.test_acc, 4), round(m.train_seconds / m.epochs, 1)]
         for m in f.models],
        f"Classic baselines, Adam lr {config.lr:g}, batch {config.batch_size}, {config.epochs} epoch(s), "
        f"{config.train_limit or 60000:,} training and {f.n_test:,} test images"
        + (f"; then the same networks with Report D's recipe (SGD lr 0.5, batch 300, {config.epochs} epoch(s))."
           if config.report_d_recipe else "."))
    untangling = Table(
        ["representation", "dimensions", "neighbourhood hit", "hull purity", "ellipse purity", "t-SNE s"],
        [[r.name, r.dims, round(r.hit, 3), round(r.hull_purity, 3), round(r.ellipse_purity, 3), round(r.seconds, 1)]
         for r in f.representations],
        f"Task 1's separation measures on t-SNE of {config.tsne_subset:,} test digits (k = {config.neighbours}, "
        f"hulls of each class's {config.hull_keep:.0%} core, {config.ellipse_sigma:g}-sigma ellipses); "
        f"representations wider than {config.tsne_pca_dims} dimensions pass through PCA first.")
    return {"models": models, "untangling": untangling}


def _figures(f: Findings, ctx: Context) -> list[Figure]:
    reps = f.representations
    measures = {"neighbourhood hit": [r.hit for r in reps], "hull purity": [r.hull_purity for r in reps],
                "ellipse purity": [r.ellipse_purity for r in reps]}
    return [ctx.figure(plot_embeddings({r.name: r.embedding for r in reps}, f.labels, {r.name: r.hit for r in reps},
                                       ctx.seed), "tsne_representations",
                       "t-SNE of the same test digits: raw pixels, then each network's layers."),
            ctx.figure(plot_measures([r.name for r in reps], measures), "untangling",
                       "Separation measures for each representation, from pixels to logits.")]


def present(f: Findings, config: Config, ctx: Context) -> Result:
    """The metrics, the tables (the models, the separation of each representation) and the t-SNE figures."""
    return Result(metrics=metrics(f), tables=_tables(f, config), figures=_figures(f, ctx))
