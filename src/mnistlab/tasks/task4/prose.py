"""Task 4's discussion, paragraphs by id, written from its findings."""

from __future__ import annotations

from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.sweeps import per_epoch_seconds
from mnistlab.tasks.task4.config import Config
from mnistlab.tasks.task4.findings import Findings
from mnistlab.train import precision_words


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The report's paragraphs by id: 'model' (Task 4.1), 'curves' (only with more than one epoch), 'sweep'
    (Task 4.2) and 'cnn_vs_mlp'. Each states a finding in its lead; the CNN-vs-MLP verdict and the conclusion
    drawn from it compare one trained network of each family (one seed), which cannot tell the families apart
    (the runner's comparisons across seeds can), so they stay in that paragraph's detail."""
    curves = {"curves": _curves(f)} if f.curve.epochs > 1 else {}
    return {"model": _model(f, config), **curves, "sweep": _sweep(f), "cnn_vs_mlp": _cnn_vs_mlp(f)}


def _model(f: Findings, config: Config) -> Paragraph:
    first = f.first
    if config.batch_size > config.mlp_batch_size:
        batch = (f"Batch {config.batch_size} rather than the MLP's {config.mlp_batch_size}: convolutions keep the CPU "
                 "busier on bigger batches (more images per second, see benchmarks/bench_engine.py) and Adam's steps "
                 "are less noisy, which matters late in training when the test loss starts to drift up.")
    elif config.batch_size == config.mlp_batch_size:
        batch = f"Batch {config.batch_size}, as for the MLP, so the two families see the same number of updates."
    else:
        batch = (f"Batch {config.batch_size}, smaller than the MLP's {config.mlp_batch_size}, so the CNN takes more "
                 "updates per epoch.")
    return Paragraph(
        f"Task 4.1: {first['name']} ({first['params']:,} parameters) reaches {first['test_acc']:.2%} accuracy on "
        f"the test data and {first['train_acc']:.2%} on the training data (test loss {first['test_loss']:.3f}).",
        f"It was trained with Adam (lr {config.lr:g}, batch {config.batch_size}, {f.curve.epochs} epoch(s), "
        f"{precision_words(config.precision)}{', channels_last' if config.channels_last else ''}). " + batch)


def _curves(f: Findings) -> Paragraph:
    c, first = f.curve, f.first
    climbs = "keeps climbing to" if c.train_acc_rises else "ends at"
    if not c.test_loss_rose:
        loss = f"the test loss ends at its minimum, {c.last_test_loss:.3f}, so no over-fitting shows yet"
    else:
        like = "the same mild over-fitting as the MLP" if f.mlp_curve.test_loss_rose else (
            "mild over-fitting (the MLP's test loss did not turn up)")
        loss = f"the test loss moves from {c.min_test_loss:.3f} (its minimum) to {c.last_test_loss:.3f}, {like}"
    return Paragraph(f"Learning curves: test accuracy is {c.first_test_acc:.2%} after one epoch and peaks at "
                     f"{c.best_test_acc:.2%} (epoch {c.best_test_epoch}); training accuracy {climbs} "
                     f"{c.last_train_acc:.2%}, on a train-test gap of "
                     f"{(first['train_acc'] - first['test_acc']) * 100:.2f} points.",
                     f"Meanwhile {loss}.")


def _sweep(f: Findings) -> Paragraph:
    cnns = f.cnns
    best = max(cnns, key=lambda r: r["test_acc"])
    worst = min(cnns, key=lambda r: r["test_acc"])
    by_depth = sorted(cnns, key=lambda r: (r["depth"], r["params"]))
    per_param = max(cnns, key=lambda r: r["test_acc"] / r["params"])
    shallow = by_depth[0]
    if shallow["head_share"] > 0.5:
        why = (f"A shallow CNN keeps a large feature map, so most of its parameters sit in the dense head "
               f"({shallow['head_share']:.0%} of {shallow['name']}'s); each extra stride-2 convolution widens the "
               "receptive field and shrinks that head, ")
    else:
        why = (f"Even the shallowest CNN, {shallow['name']}, keeps only {shallow['head_share']:.0%} of its parameters "
               "in the dense head, ")
    link = ("which is why parameters and accuracy are only loosely linked here" if f.loosely_linked else
            "and accuracy rises with the parameter count here")
    return Paragraph(
        f"Task 4.2: the {len(cnns)} CNNs range from {worst['test_acc']:.2%} ({worst['name']}, {worst['params']:,} "
        f"parameters, {worst['depth']} weight layers) to {best['test_acc']:.2%} ({best['name']}, "
        f"{best['params']:,} parameters, {best['depth']} weight layers).",
        "By depth: "
        + "; ".join(f"{r['depth']} layers, {r['params']:,} parameters: {r['test_acc']:.2%}" for r in by_depth)
        + f". {why}{link} (most accuracy per parameter: {per_param['name']}).")


def _cnn_vs_mlp(f: Findings) -> Paragraph:
    first, mlp = f.first, f.mlp
    best_mlp = max(f.mlps, key=lambda r: r["test_acc"])
    cnn_name = "CNN-1" if f.first_is_cnn1 else first["name"]
    mlp_name = "the brief's MLP" if f.mlp_is_brief else f"the first MLP, {mlp['name']},"
    more_arithmetic = first["mflops"] > mlp["mflops"]
    cost = (f"Parameters are not cost: a convolution reuses each weight at every position, so {cnn_name} needs "
            if more_arithmetic and first["params"] < mlp["params"] else f"{cnn_name} needs ")
    tested = "Tested on this seed's test predictions" if f.cnn_vs_mlp.tested else "Not tested"
    conclusion = "."
    if f.cnn_vs_mlp.a_won and first["params"] < mlp["params"]:
        conclusion = (f", with {mlp['params'] / first['params']:.1f}x fewer parameters for the CNN: weight sharing "
                      "and locality buy accuracy and a smaller model"
                      + (", paid for in arithmetic per image." if more_arithmetic else "."))
    return Paragraph(
        f"CNN vs MLP: {first['name']} reaches {first['test_acc']:.2%} with {first['params']:,} parameters, "
        f"{mlp_name} {mlp['test_acc']:.2%} with {mlp['params']:,} ({mlp['params'] / first['params']:.1f}x as "
        f"many; the best MLP here: {best_mlp['test_acc']:.2%}).",
        f"{cost}{first['mflops']:.1f} MFLOP per image forward against the MLP's {mlp['mflops']:.1f}, and trains at "
        f"{per_epoch_seconds(first):.1f} s per epoch against {per_epoch_seconds(mlp):.1f} s, with "
        f"{first['infer_images_per_second']:,.0f} against {mlp['infer_images_per_second']:,.0f} test images per "
        f"second at inference (this run's timings, under whatever else the machine ran: the table's caption names "
        f"it). {tested}: {f.cnn_vs_mlp.text}{conclusion}")
