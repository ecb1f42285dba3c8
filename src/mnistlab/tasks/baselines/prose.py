"""The baselines' discussion, paragraphs by id, written from their findings."""

from __future__ import annotations

from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.baselines.config import Config
from mnistlab.tasks.baselines.findings import Findings, ModelFindings


def prose(f: Findings, config: Config) -> dict[str, str]:
    """Paragraphs by id: 'accuracy' (the models), 'untangling' (the t-SNE separation); each states a finding.
    Which model beat which is discussion only: each was trained once, with one seed."""
    return {"accuracy": _accuracy(f), "untangling": _untangling(f, config.neighbours)}


def _accuracies(models: list[ModelFindings], parameters: bool) -> str:
    return ", ".join(f"{m.name} {m.test_acc:.2%}" + (f" ({m.params:,} parameters)" if parameters else "")
                     for m in models)


def _accuracy(f: Findings) -> Paragraph:
    adam = [m for m in f.models if m.recipe == "adam"]
    report_d = [m for m in f.models if m.recipe == "report_d"]
    lead = (f"Test accuracy: {_accuracies(adam, parameters=True)}"
            + (f"; with Report D's recipe (plain SGD, lr 0.5, batch 300): {_accuracies(report_d, parameters=False)}"
               if report_d else "") + ".")
    # judged within each recipe: across recipes a small network with one can beat a large one with the other
    if all(f.ranked_by_size(recipe) for recipe in dict.fromkeys(m.recipe for m in f.models)):
        ranking = ("Each step up bought accuracy: a hidden layer combines strokes instead of weighting single "
                   "pixels, and the convolutions find the same stroke wherever it appears.")
    else:
        ranking = ("Here the bigger models did not all beat the smaller ones trained the same way: on a short "
                   "schedule the sigmoid networks, which start on a plateau, have not caught up yet (compare the "
                   "train accuracy column); a longer schedule is expected to reorder the table.")
    return Paragraph(lead, f"{ranking} (Each network was trained once, with one seed.)")


def _untangling(f: Findings, k: int) -> Paragraph:
    hit = {r.name: r.hit for r in f.representations}
    pixels = hit["pixels"]
    hidden = [(name, value) for name, value in hit.items() if name != "pixels" and "logits" not in name]
    better = [name for name, value in hidden if value > pixels]
    best_name, best_hit = max(hit.items(), key=lambda item: item[1])
    return Paragraph(
        f"Manifold untangling: in the t-SNE of raw pixels {pixels:.3f} of each digit's {k} nearest neighbours share "
        f"its class. The best separated is '{best_name}' ({best_hit:.3f}).",
        "In the networks' hidden representations: " + ", ".join(f"'{name}' {value:.3f}" for name, value in hidden)
        + ". "
        + ("Every hidden representation separates the digits better than the pixels: layer by layer the "
           "networks pull the tangled pixel manifolds of the ten digits apart, into regions that their last "
           "layer - a softmax regression on those features - can cut with hyperplanes."
           if len(better) == len(hidden) else
           f"{len(better)} of the {len(hidden)} hidden representations separate the digits better than the "
           "pixels; the others may belong to networks that this schedule has not trained far enough to untangle "
           "the classes (compare their test accuracy)."))
