"""Task 6: exact network sizes, what lambda = 0 / 1 do to the heads, the weighting strategies, the task."""

from __future__ import annotations

import copy
import gc
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from mnistlab.data import fashion_groups, load
from mnistlab.errors import ConfigError
from mnistlab.execution.runner import run_in_context
from mnistlab.models import forward_macs
from mnistlab.models.mtl import GROUP_CLASSES, ITEM_CLASSES, MTLNet, build_mtl, build_single_task
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.multitask import MTL_FORWARD_MACS, MTL_HEADS
from mnistlab.tasks.task6 import TASK
from mnistlab.tasks.task6.config import Config
from mnistlab.tasks.task6.findings import ErrorFindings, Findings, compute_findings, cross_group_errors
from mnistlab.tasks.task6.prose import bar_text, prose
from mnistlab.train import TrainConfig, count_parameters, fit
from mnistlab.weighting import (
    LEARNED,
    STRATEGIES,
    WEIGHTINGS,
    FixedWeighting,
    PCGradWeighting,
    UncertaintyWeighting,
    conflict_coefficients,
    gradnorm,
    gram_matrix,
    make_weighting,
    pcgrad,
)
from mnistlab.weighting.base import linear_weight_grad_gram
from mnistlab.weighting.gradnorm import GradNormWeighting


@pytest.fixture(scope="module")
def fashion():
    x, items = load("fashion-mnist", "train", limit=320)
    xt, items_t = load("fashion-mnist", "test", limit=300)
    return x, items, fashion_groups(items), xt, items_t, fashion_groups(items_t)


def test_parameter_counts_and_shapes():
    assert count_parameters(build_single_task(10)) == 23_080_598
    assert count_parameters(build_single_task(3)) == 23_079_891
    mtl = build_mtl()
    assert count_parameters(mtl) == 26_395_689
    # everything but the heads is shared: trunk = conv stack + the 6,272 x 3,136 dense layer
    assert sum(p.numel() for p in mtl.shared_parameters()) == 92_672 + 6272 * 3136 + 3136
    item, group = mtl(torch.zeros(4, 1, 28, 28))
    assert item.shape == (4, 10) and group.shape == (4, 3)
    assert build_single_task(3)(torch.zeros(2, 1, 28, 28)).shape == (2, 3)


def _head_state(model: MTLNet, head: int) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.heads[head].state_dict().items()}


@pytest.mark.parametrize(("lam", "frozen", "trained"), [(1.0, 1, 0), (0.0, 0, 1)])
def test_lambda_extremes_leave_one_head_untrained(fashion, lam, frozen, trained):
    x, items, groups, *_ = fashion
    torch.manual_seed(0)
    model = build_mtl()
    before_frozen, before_trained = _head_state(model, frozen), _head_state(model, trained)
    trunk_before = model.trunk[-2].weight.detach().clone()  # the shared dense 3136 layer
    cfg = TrainConfig(epochs=1, batch_size=16, precision="auto")
    fit(model, (x[:32], (items[:32], groups[:32])), cfg=cfg, objective=FixedWeighting.from_lambda(lam),
        show_progress=False)
    after_frozen, after_trained = _head_state(model, frozen), _head_state(model, trained)
    assert all(torch.equal(before_frozen[k], after_frozen[k]) for k in before_frozen)
    assert any(not torch.equal(before_trained[k], after_trained[k]) for k in before_trained)
    assert not torch.equal(trunk_before, model.trunk[-2].weight)


@pytest.mark.parametrize("name", ["uncertainty", "pcgrad", "gradnorm"])
def test_learned_strategies_train_a_few_steps_and_stay_finite(fashion, name):
    x, items, groups, *_ = fashion
    torch.manual_seed(0)
    model = build_mtl()
    before = model.trunk[-2].weight.detach().clone()
    objective = make_weighting(name)
    cfg = TrainConfig(epochs=1, batch_size=16, precision="auto")
    result = fit(model, (x[:32], (items[:32], groups[:32])), cfg=cfg, objective=objective, show_progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert math.isfinite(result.final()["train_loss"])
    assert not torch.equal(before, model.trunk[-2].weight)
    state = objective.state()
    if name == "gradnorm":
        assert sum(objective.task_weights()) == pytest.approx(2.0) and objective.steps == 2
    elif name == "uncertainty":
        assert torch.isfinite(objective.log_vars).all()
        assert not torch.equal(objective.log_vars.detach(), torch.zeros(2))  # the log-variances were optimised
    else:
        assert objective.steps == 2 and 0 <= state["conflict_rate"] <= 1 and -1 <= state["mean_cosine"] <= 1


def _pcgrad_reference(grads: list[torch.Tensor], order=None) -> list[torch.Tensor]:
    """The paper's algorithm 1 on flat task gradients: g_i loses its component along each original g_j
    (in order[i]) where g_i . g_j < 0."""
    out = []
    for i, g in enumerate(grads):
        current = g.clone()
        for j in order[i] if order is not None else range(len(grads)):
            if j != i and current.dot(grads[j]) < 0:
                current -= current.dot(grads[j]) / grads[j].dot(grads[j]) * grads[j]
        out.append(current)
    return out


def test_conflict_coefficients_remove_only_the_conflicting_component():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    c = conflict_coefficients(gram_matrix([[g1], [g2]]))
    p1, p2 = _pcgrad_reference([g1, g2])
    assert torch.allclose(p1, torch.tensor([0.5, 0.5])) and p1.dot(g2).abs() < 1e-6 and p2.dot(g1).abs() < 1e-6
    assert torch.allclose((c[0] * g1 + c[1] * g2).float(), p1 + p2)
    a, b = torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])  # no conflict: untouched
    assert conflict_coefficients(gram_matrix([[a], [b]])).tolist() == [1.0, 1.0]


def test_conflict_coefficients_follow_the_algorithm_for_three_tasks_in_any_order():
    torch.manual_seed(4)
    grads = [torch.randn(6) for _ in range(3)]
    grads[2] = -grads[0] + 0.3 * torch.randn(6)  # make sure some pairs conflict
    gram = gram_matrix([[g[:2], g[2:]] for g in grads])  # a gradient in two parts, as per parameter
    assert torch.allclose(gram.float(), torch.stack(grads) @ torch.stack(grads).T, atol=1e-5)
    for order in ([[1, 2], [0, 2], [0, 1]], [[2, 1], [2, 0], [1, 0]]):
        c = conflict_coefficients(gram, order).float()
        assert torch.allclose(c @ torch.stack(grads), torch.stack(_pcgrad_reference(grads, order)).sum(0), atol=1e-5)


class _TinyMTL(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(5, 4)
        self.heads = nn.ModuleList([nn.Linear(4, 3), nn.Linear(4, 2)])

    def forward(self, x):
        z = torch.relu(self.trunk(x))
        return tuple(h(z) for h in self.heads)

    def shared_parameters(self):
        return self.trunk.parameters()


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("seed, conflict", [(1, False), (9, True)])
def test_pcgrad_backward_matches_the_definition(step, seed, conflict, monkeypatch):
    """Per-task gradients, the paper's surgery on the shared ones, heads from their own loss: the first step
    forms every task gradient; later ones take the last shared Linear's from its tap (see tapped_linear)."""
    torch.manual_seed(seed)
    model, x = _TinyMTL(), torch.randn(8, 5)
    y = (torch.randint(0, 3, (8,)), torch.randint(0, 2, (8,)))
    pc = PCGradWeighting()
    tapped = []
    monkeypatch.setattr(pcgrad, "linear_weight_grad_gram", lambda *a: tapped.append(1) or linear_weight_grad_gram(*a))
    for k in range(step):
        model.zero_grad()
        assert (pc.tap is not None and pc.tap.layer is model.trunk) == (k > 0)
        torch.manual_seed(7)  # the order in which each task projects
        pc.manual_backward(model(x), y, model)
    assert len(tapped) == step - 1
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    losses = pc.task_losses(model(x), y)
    shared = list(model.shared_parameters())
    flat = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, shared, retain_graph=True)])
            for loss in losses]
    torch.manual_seed(7)
    order = [[int(j) for j in torch.randperm(2) if int(j) != i] for i in range(2)]
    expected = torch.stack(_pcgrad_reference(flat, order)).sum(0)
    assert torch.allclose(torch.cat([got["trunk.weight"].reshape(-1), got["trunk.bias"]]), expected, atol=1e-6)
    assert bool(flat[0].dot(flat[1]) < 0) == conflict and pc.steps == step and pc.conflicts == conflict * step
    model.zero_grad()
    losses.sum().backward()
    for n, p in model.named_parameters():
        if n.startswith("heads"):
            assert torch.allclose(got[n], p.grad, atol=1e-6)


def test_gradnorm_balances_gradient_norms_on_tiny_data():
    torch.manual_seed(0)
    model = _TinyMTL()
    x = torch.randn(64, 5)
    y = ((x[:, 0] > 0).long() + (x[:, 1] > 0).long(), (x[:, 2] > 0).long())
    gn = GradNormWeighting()
    optimizer = torch.optim.Adam([*model.parameters(), *gn.parameters()], lr=0.05)
    losses = []
    for _ in range(60):
        optimizer.zero_grad(set_to_none=True)
        losses.append(gn.manual_backward(model(x), y, model).item())
        assert gn.weights.grad is not None and model.trunk.weight.grad is not None
        optimizer.step()
    assert losses[-1] < 0.7 * losses[0]
    weights = torch.tensor(gn.task_weights())
    assert (weights > 0).all() and weights.sum().item() == pytest.approx(2.0)
    assert not torch.allclose(weights, torch.ones(2))  # the weights were learned
    state = gn.state()
    assert set(state) == {"weight_0", "weight_1", "alpha", "grad_norm_0", "grad_norm_1", "train_rate_0",
                          "train_rate_1"}
    assert state["alpha"] == 1.5 and gn.steps == 60


def test_gradnorm_step_follows_the_paper():
    """The model gets the gradient of sum_i w_i L_i; w gets d/dw of sum_i |w_i n_i - mean(w n) r_i^alpha|,
    with n_i the norm of grad L_i on the last shared weight matrix; a second step renormalises w first."""
    torch.manual_seed(2)
    model, x = _TinyMTL(), torch.randn(8, 5)
    y = (torch.randint(0, 3, (8,)), torch.randint(0, 2, (8,)))
    gn = GradNormWeighting()
    with torch.no_grad():
        gn.weights.copy_(torch.tensor([0.5, 2.5]))  # not yet normalised: the step must rescale to sum 2
    gn.manual_backward(model(x), y, model)
    w = torch.tensor([0.5, 2.5]) * 2 / 3
    losses = gn.task_losses(model(x), y)
    norms = torch.stack([torch.autograd.grad(loss, model.trunk.weight, retain_graph=True)[0].norm()
                         for loss in losses])
    g = w * norms
    rates = torch.ones(2)  # the first step: L_i(t) = L_i(0)
    expected = torch.sign(g - g.mean() * rates ** 1.5) * norms
    assert torch.allclose(gn.weights.grad, expected, atol=1e-6)
    assert torch.allclose(gn.weights.detach(), w)
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    (w * losses).sum().backward()
    for n, p in model.named_parameters():
        assert torch.allclose(got[n], p.grad, atol=1e-6)


@pytest.mark.parametrize("batch, in_features, out_features", [((8,), 64, 32), ((200,), 6, 5), ((2, 3), 40, 24)])
def test_linear_weight_grad_gram_matches_the_weight_gradients(batch, in_features, out_features):
    """Both forms (through the rows for few rows, G^T X for many) and inputs with extra leading dimensions."""
    torch.manual_seed(0)
    layer = nn.Linear(in_features, out_features)
    x = torch.randn(*batch, in_features)
    out = layer(x)
    grads = [torch.randn_like(out) for _ in range(3)]
    weight_grads = [torch.autograd.grad(out, layer.weight, g, retain_graph=True)[0].reshape(-1) for g in grads]
    expected = torch.stack(weight_grads) @ torch.stack(weight_grads).T
    assert torch.allclose(linear_weight_grad_gram(x, grads), expected, rtol=1e-4, atol=1e-4)


def test_gradnorm_takes_norms_from_the_tapped_layer_after_its_first_step(monkeypatch):
    """From the second step the norms come from the Linear's input and output gradients (the hook the first
    step attached) and equal the weight gradients' norms; a forward without a graph is not recorded."""
    torch.manual_seed(3)
    model, x = _TinyMTL(), torch.randn(8, 5)
    y = (torch.randint(0, 3, (8,)), torch.randint(0, 2, (8,)))
    gn = GradNormWeighting()
    gn.manual_backward(model(x), y, model)  # attaches the tap
    assert gn.tap is not None and gn.tap.layer is model.trunk and gn.tap.seen is None
    with torch.inference_mode():
        model(x)
    assert gn.tap.seen is None
    calls = []
    monkeypatch.setattr(gradnorm, "linear_weight_grad_gram",
                        lambda *a: calls.append(1) or linear_weight_grad_gram(*a))
    losses = gn.task_losses(model(x), y)
    assert gn.tap.seen is not None
    norms = gn.gradient_norms(losses, model.trunk.weight, model)
    assert len(calls) == 1 and gn.tap.seen is None
    expected = [torch.autograd.grad(loss, model.trunk.weight, retain_graph=True)[0].norm() for loss in losses]
    assert torch.allclose(norms, torch.stack(expected), rtol=1e-5)
    # no fresh forward since: the direct way again, same numbers
    assert torch.allclose(gn.gradient_norms(losses, model.trunk.weight, model), norms, rtol=1e-5)
    assert len(calls) == 1
    assert len(model.trunk._forward_hooks) == 1
    del gn, losses, norms, expected
    gc.collect()
    assert not model.trunk._forward_hooks  # the tap left with its weighting


def test_every_registered_weighting_names_and_describes_itself():
    assert STRATEGIES == ("fixed", "uncertainty", "pcgrad", "gradnorm") and set(STRATEGIES) == set(WEIGHTINGS)
    assert "fixed" not in LEARNED and Config().strategies == LEARNED
    torch.manual_seed(0)
    model, x = _TinyMTL(), torch.randn(8, 5)
    y = (torch.randint(0, 3, (8,)), torch.randint(0, 2, (8,)))
    for name, cls in WEIGHTINGS.items():
        objective = make_weighting(name, lam=0.25)
        assert isinstance(objective, cls) and cls.name == name and cls.title and cls.marker
        step = getattr(objective, "manual_backward", None)
        loss = step(model(x), y, model) if step else objective(model(x), y)
        assert math.isfinite(loss.item())
        state = objective.state()
        for text in (cls.describe(state, ("items", "groups")), cls.detail(state, ("item", "group")),
                     cls.weights_label(state)):
            assert isinstance(text, str) and text and "nan" not in text


def test_weighting_formulas():
    losses = torch.tensor([2.0, 4.0])
    assert FixedWeighting.from_lambda(0.25).combine(losses).item() == pytest.approx(0.25 * 2 + 0.75 * 4)
    uw = UncertaintyWeighting()
    with torch.no_grad():
        uw.log_vars.copy_(torch.tensor([math.log(2.0), 0.0]))
    assert uw.combine(losses).item() == pytest.approx(2 / 2 + 0.5 * math.log(2.0) + 4)
    assert uw.task_weights() == pytest.approx([0.5, 1.0])
    with pytest.raises(ConfigError):
        FixedWeighting.from_lambda(1.5)
    with pytest.raises(ConfigError):
        make_weighting("gradnorm-typo")


def test_config_rejects_bad_values():
    assert "task6" in REGISTRY
    for bad in ({"lambdas": (0.5, 1.2)}, {"lambdas": ()}, {"lambdas": (0.5, 0.5)}, {"strategies": ("magic",)},
                {"epochs": 0}, {"batch_size": 0}, {"batch_probe": (0,)}, {"precision": "fp16"},
                {"train_limit": 0}, {"test_limit": 20000}, {"lr": 0.0}):
        with pytest.raises(ConfigError):
            TASK.config("quick", bad)
    assert TASK.config("brief").epochs == 5
    assert TASK.parse_override("lambdas", "0,0.3,1") == (0.0, 0.3, 1.0)


def test_small_mtl_learns_beyond_chance(fashion):
    # The brief's architecture at a fraction of the width, so that several epochs fit in a test.
    x, items, groups, xt, items_t, groups_t = fashion
    torch.manual_seed(0)
    model = MTLNet(channels=(8, 16, 16), shared_dense=64, head_hidden=(32,))
    cfg = TrainConfig(epochs=5, batch_size=32, lr=3e-3, eval_batch_size=1000)
    result = fit(model, (x, (items, groups)), (xt, (items_t, groups_t)), cfg,
                 objective=FixedWeighting.from_lambda(0.5), show_progress=False, heads=MTL_HEADS)
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < first["train_loss"]
    assert last["test_acc_item"] > 0.35  # 10 items: chance 10%
    majority = torch.bincount(groups_t).max().item() / len(groups_t)
    assert last["test_acc_group"] > majority + 0.1
    assert last["test_loss"] == pytest.approx(last["test_loss_item"] + last["test_loss_group"])


def test_task_runs_end_to_end_and_reruns_from_cache(ctx):
    config = Config(lambdas=(1.0,), strategies=(), epochs=1, batch_size=50, batch_probe=(), recipe_probe=False,
                    train_limit=50, test_limit=100)
    config.validate()
    result = run_in_context(TASK, config, ctx)
    m = result.metrics
    for key in ("single_item_test_acc", "single_group_test_acc", "mtl_lambda_1_item_test_acc",
                "mtl_lambda_1_group_test_acc"):
        assert 0 <= m[key] <= 1
    assert (m["params_single_item"], m["params_single_group"], m["params_mtl"]) == (23_080_598, 23_079_891,
                                                                                    26_395_689)
    assert m["params_saving"] == 23_080_598 + 23_079_891 - 26_395_689
    assert m["mtl_lambda_1_untrained_head_max_weight_change"] == 0.0
    assert 1 <= m["mtl_lambda_1_untrained_head_classes_used"] <= 3  # the group head has 3 classes
    assert {"accuracy", "parameters"} <= set(result.tables)
    assert (ctx.out_dir / "accuracy_vs_lambda.png").is_file()
    assert any("lambda = 1" in p for p in list(result.paragraphs.values()))
    # the engine records each task by name, and the arrays the contrasts read carry the same names
    trained = ctx.trained(TASK.sub_runs(for_device(config, ctx.device), 0)[0])
    assert set(trained.record["history"][0]) == {
        "epoch", "seconds", "threads", "train_loss", "train_acc_item", "train_acc_group",
        *(f"{split}_{key}" for split in ("test", "val")
          for key in ("loss", "acc_item", "loss_item", "acc_group", "loss_group"))}
    assert set(trained.arrays) == {"pred_item", "correct_item", "pred_group", "correct_group"}
    assert {c.a.correct for c in TASK.contrasts(replace(config, lambdas=(0.5,)))} == {"correct_item", "correct_group"}
    first_speed = _prose(config, ctx)["speed"]
    misses = ctx.cache.misses
    assert misses == 2  # lambda = 1 is the single-task item CNN, lambda = 0 the group CNN: one sub-run each
    again = run_in_context(TASK, config, ctx)
    assert ctx.cache.misses == misses and ctx.cache.hits == 2
    assert again.metrics["mtl_lambda_1_item_test_acc"] == m["mtl_lambda_1_item_test_acc"]
    assert "all in this run" in first_speed
    assert "2 of them loaded from the cache keep the time of the run that trained them" in _prose(config, ctx)["speed"]


def test_a_learned_weighting_gets_its_row_text_and_metrics_from_the_registry(ctx):
    config = Config(lambdas=(1.0,), strategies=("gradnorm",), epochs=1, batch_size=25, batch_probe=(),
                    recipe_probe=False, train_limit=50, test_limit=100)
    result = run_in_context(TASK, config, ctx)
    m = result.metrics
    assert 0 <= m["mtl_gradnorm_item_test_acc"] <= 1 and m["mtl_gradnorm_alpha"] == 1.5
    assert m["mtl_gradnorm_weight_0"] + m["mtl_gradnorm_weight_1"] == pytest.approx(2.0)
    # the metric the multi-seed figure places it by (task6.seed_figures)
    assert m["mtl_gradnorm_effective_lambda"] == pytest.approx(m["mtl_gradnorm_weight_0"] / 2.0)
    assert any(row[0] == "MTL GradNorm (Chen et al. 2018)" for row in result.tables["accuracy"].rows)
    assert [row[0] for row in result.tables["strategies"].rows] == ["GradNorm (Chen et al. 2018)"]
    text = _prose(config, ctx)
    assert finding_of(text["learned_gradnorm"]).startswith("MTL with GradNorm (Chen et al. 2018) reached items ")
    assert "GradNorm (alpha 1.5) ended with weights" in text["learned_gradnorm"]
    assert "GradNorm (alpha 1.5)" not in finding_of(text["learned_gradnorm"])
    assert "GradNorm equalises" in text["considerations"]
    assert [c.a.label for c in TASK.contrasts(config)] == ["MTL gradnorm", "MTL gradnorm"]


def test_probes_train_the_half_lambda_network_with_each_variant(ctx):
    config = Config(lambdas=(0.5,), strategies=(), epochs=1, batch_size=50, batch_probe=(25, 50),
                    train_limit=50, test_limit=100)
    assert [name for name, _, _ in config.probes()] == ["batch_25", "plain"]  # the default batch is no probe
    assert config.train_config(**config.probes()[1][2]).lr_schedule == "constant"
    result = run_in_context(TASK, config, ctx)
    assert ctx.cache.misses == 5  # lambda 1 and 0 (the single-task nets), lambda 0.5, and the two probes
    table = result.tables["probes"]
    assert [row[1] for row in table.rows] == [50, 25, 50]
    assert [row[2] for row in table.rows] == ["linear", "linear", "constant"]
    for name in ("batch_25", "plain"):
        assert 0 <= result.metrics[f"probe_{name}_item_test_acc"] <= 1
        assert result.metrics[f"probe_{name}_seconds_per_epoch"] > 0
    assert (ctx.out_dir / "confusions.png").is_file()
    assert 0 <= result.metrics["best_mixed_item_errors_crossing_groups_pct"] <= 100
    text = _prose(config, ctx)
    assert list(text) == ["setup", "best_mixed", "errors", "recipe", "batch", "speed", "considerations"]
    assert text["errors"].startswith("Where the errors are (MTL lambda = 0.5)")
    assert f"{result.metrics['best_mixed_item_errors']} of 100 test items" in text["errors"]
    assert text["recipe"].startswith("Training recipe") and text["batch"].startswith("Batch size")
    assert "mirrored" not in text["recipe"] and "shifted" not in text["recipe"]  # augment is "none"
    # the report's paragraphs are the prose's, in its order (the speed paragraph quotes the load average of the moment)
    assert [k for k in result.paragraphs if k != "comparisons"] == list(text)
    assert all(result.paragraphs[k] == v for k, v in text.items() if k != "speed")
    assert list(result.paragraphs.values())[-1].startswith("Comparisons")  # the runner's tested contrasts


def test_cross_group_errors_count_only_errors_between_groups():
    # shirt (gendered) as T-shirt (unisex) crosses; T-shirt as pullover and sandal as sneaker stay inside
    items_t = np.array([6, 6, 0, 5, 6, 3])
    pred = np.array([0, 6, 2, 7, 0, 4])
    errors, crossing, pairs = cross_group_errors(items_t, pred)
    assert (errors, crossing) == (5, 3)
    assert pairs == [(6, 0, 2), (3, 4, 1)]


def test_the_bar_is_judged_only_on_full_brief_runs():
    brief = TASK.config("brief")
    assert "meets the bar" in bar_text(brief, {"item": 0.915, "group": 0.951})
    missed = bar_text(brief, {"item": 0.915, "group": 0.9455})
    assert "misses the bar" in missed and "group 94.55% < 95%" in missed and "item" not in missed.split(":")[-1]
    assert bar_text(TASK.config("quick"), {"item": 0.2, "group": 0.5}) == ""  # a subset says nothing about it


@pytest.mark.parametrize(("lam", "head"), [(1.0, 0), (0.0, 1)])
def test_mtl_with_one_zero_weight_is_the_single_task_cnn_bit_for_bit(fashion, lam, head):
    """Why Task 6 plans the single-task CNNs as its lambda = 1 and lambda = 0 networks: an MTL network
    whose other loss has weight 0 trains its trunk and this head exactly as a single-task CNN (trunk +
    this head) that starts from the same weights, and leaves the other head where it started."""
    x, items, groups, xt, _, _ = fashion
    torch.manual_seed(0)
    mtl = MTLNet(channels=(8, 16, 16), shared_dense=64, head_hidden=(32,))
    single = nn.Sequential(copy.deepcopy(mtl.trunk), copy.deepcopy(mtl.heads[head]))
    other = copy.deepcopy(mtl.heads[1 - head].state_dict())
    cfg = TrainConfig(epochs=2, batch_size=32, lr=3e-3)
    fit(mtl, (x, (items, groups)), None, cfg, objective=FixedWeighting.from_lambda(lam), show_progress=False)
    fit(single, (x, (items, groups)[head]), None, cfg, show_progress=False)
    with torch.no_grad():
        assert torch.equal(mtl(xt)[head], single(xt))
    for k, v in mtl.heads[1 - head].state_dict().items():
        assert torch.equal(v, other[k])


def test_the_single_task_cnn_is_trunk_plus_one_head_of_the_brief_network():
    mtl = build_mtl()
    for head, classes in ((0, ITEM_CLASSES), (1, GROUP_CLASSES)):
        assert count_parameters(nn.Sequential(mtl.trunk, mtl.heads[head])) == count_parameters(
            build_single_task(classes))
    assert forward_macs(mtl) == MTL_FORWARD_MACS


def test_the_probes_run_in_the_extended_profile_not_the_brief():
    brief, extended = TASK.config("brief"), TASK.config("extended")
    assert brief.probes() == [] and brief.epochs == 5
    assert [name for name, _, _ in extended.probes()] == ["batch_10", "plain"] and extended.epochs == 5
    learned = len(brief.strategies)
    assert len(TASK.sub_runs(brief, 0)) == 5 + learned  # five lambdas (0 and 1: the single-task CNNs), learned ones
    assert len(TASK.sub_runs(extended, 0)) == 5 + learned + 2


def _prose(config: Config, ctx) -> dict[str, str]:
    """The prose of the networks the last `run_in_context(TASK, config, ctx)` trained or loaded, by paragraph id."""
    config = for_device(config, ctx.device)  # the config as the runner ran it
    return prose(compute_findings(config, ctx), config)


# ---- the prose against hand-made findings: every claim is checked by paragraph id ----------------------

GRADNORM_STATE = {"weight_0": 1.1, "weight_1": 0.9, "alpha": 1.5, "grad_norm_0": 1.0, "grad_norm_1": 2.0,
                  "train_rate_0": 1.0, "train_rate_1": 1.0}


def _row(name, strategy, lam, item, group, *, val=(0.5, 0.5), spe=25.0, state=None, **extra):
    state = state or {"weight_0": lam, "weight_1": 1 - lam}
    weights = (state.get("weight_0", 1.0), state.get("weight_1", 1.0))
    return {"name": name, "strategy": strategy, "lambda": lam, "item": item, "group": group, "val_item": val[0],
            "val_group": val[1], "params": 26_395_689, "seconds": 5 * spe, "spe": spe, "weights": weights,
            "eff_lambda": weights[0] / sum(weights), "state": state, "item_as_group": 0.9, **extra}


def _probe(name, item, group, spe, batch=100, schedule="linear"):
    return {"name": name, "label": name, "batch": batch, "schedule": schedule, "augment": "none", "item": item,
            "group": group, "seconds": 5 * spe, "spe": spe}


def _single(params, acc, spe):
    return {"params": params, "final": {"test_acc": acc}, "train_seconds": 5 * spe, "seconds_per_epoch": spe,
            "history": []}


def _findings() -> Findings:
    rows = [_row("lambda_0", "fixed", 0.0, 0.03, 0.95, head_change=0.0, untrained_classes_used=3),
            _row("lambda_0.25", "fixed", 0.25, 0.925, 0.96, val=(0.90, 0.95)),
            _row("lambda_0.5", "fixed", 0.5, 0.915, 0.955, val=(0.92, 0.96)),
            _row("lambda_1", "fixed", 1.0, 0.91, 0.30, head_change=0.0, untrained_classes_used=2),
            _row("gradnorm", "gradnorm", None, 0.912, 0.953, spe=40.0, state=GRADNORM_STATE)]
    errors = ErrorFindings(0.5, 850, 300, [(6, 0, 120), (9, 8, 30)], np.zeros((10, 10), int), np.zeros((3, 3), int),
                           np.zeros((3, 3), int))
    single = {"item": _single(23_080_598, 0.91, 20.0), "group": _single(23_079_891, 0.95, 20.0), "item_as_group": 0.948}
    return Findings(rows=rows, single=single,
                    probes=[_probe("default", 0.915, 0.955, 25.0), _probe("batch_10", 0.917, 0.956, 90.0, batch=10),
                            _probe("plain", 0.905, 0.950, 25.0, schedule="constant")],
                    histories={}, majority_group=0.4, n_test=10_000, cache_hits=0, loads=(1.0, 2.0), errors=errors)


BRIEF = Config(epochs=5)


def test_prose_has_every_paragraph_in_report_order():
    text = prose(_findings(), BRIEF)
    assert list(text) == ["setup", "best_mixed", "extremes", "learned_gradnorm", "errors", "recipe", "batch", "speed",
                          "considerations"]
    assert all(text.values())


def test_results_lead_with_their_findings_and_method_paragraphs_declare_none():
    """The report lists the findings the paragraphs declare, in their order (the first five): the results
    come first, each led by a short sentence with its numbers; how the run was made declares none."""
    text = prose(_findings(), BRIEF)
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert [key for key, finding in found.items() if finding] == ["best_mixed", "extremes", "learned_gradnorm",
                                                                   "errors"]
    assert all(text[key].startswith(finding) and len(finding) <= 320 for key, finding in found.items() if finding)
    assert all(found[key] == "" for key in ("setup", "recipe", "batch", "speed", "considerations"))
    assert found["best_mixed"] == ("Best mixed lambda, chosen on validation: 0.5, with test accuracies of items 91.50% "
                                   "(+0.50 pp against the single-task CNN) and groups 95.50% (+0.50 pp).")
    assert found["extremes"] == ("At lambda = 0 and lambda = 1 the head whose loss has weight 0 is never trained: the "
                                 "item head at lambda = 0 scores 3.00% (item chance 10%); the group head at lambda = 1 "
                                 "scores 30.00% (group chance 33%, majority class 40%).")
    assert found["learned_gradnorm"] == ("MTL with GradNorm (Chen et al. 2018) reached items 91.20% (+0.20 pp vs "
                                         "single) and groups 95.30% (+0.30 pp).")
    assert found["errors"] == ("Where the errors are (MTL lambda = 0.5): 850 of 10,000 test items are misclassified, "
                               "and 300 of those (35%) land in another group, so they are group errors too.")
    # the bar and how the lambda was chosen are the detail, after the finding
    assert "bar this lab sets" not in found["best_mixed"] and "validation accuracies" not in found["best_mixed"]
    # a run without the untrained extremes, the errors or learned weightings declares fewer findings
    f = _findings()
    mixed_only = replace(f, rows=[r for r in f.rows if r["name"] in ("lambda_0.25", "lambda_0.5")], errors=None)
    assert [k for k, p in prose(mixed_only, BRIEF).items() if finding_of(p)] == ["best_mixed"]


def test_prose_credits_only_the_recipe_that_ran():
    """The issue's example: the recipe paragraph credited 'the shifted and mirrored images' whenever the
    recipe beat its probe, although augment defaults to 'none'."""
    f = _findings()
    recipe = prose(f, BRIEF)["recipe"]
    assert BRIEF.augment == "none" and "shifted" not in recipe and "mirrored" not in recipe
    assert "decaying it lets the last epoch settle" in recipe and "decayed linearly to 0" in recipe
    flip = prose(f, replace(BRIEF, augment="flip-shift"))["recipe"]
    assert "the shifted and mirrored images keep the 26 M-parameter network" in flip
    shift = prose(f, replace(BRIEF, augment="shift", lr_schedule="constant"))["recipe"]
    assert "The shifted images keep" in shift and "mirrored" not in shift and "decaying" not in shift
    assert "decayed along a cosine" in prose(f, replace(BRIEF, lr_schedule="cosine"))["recipe"]
    # the recipe lost on one task: no reasons why it helped
    worse = replace(f, probes=[f.probes[0], replace_probe(f.probes[2], group=0.96)])
    text = prose(worse, BRIEF)["recipe"]
    assert "no evidence" in text and "decaying" not in text and "-0.50 pp" in text


def replace_probe(probe: dict, **values) -> dict:
    return {**probe, **values}


def test_prose_quotes_the_findings_numbers():
    f = _findings()
    text = prose(f, BRIEF)
    assert "one MTL network has 26,395,689, 19,764,800 (42.8%) fewer than the pair" in text["setup"]
    # the best mixed lambda is chosen on validation (0.5), not on the test set (0.25 scores higher there)
    assert text["best_mixed"].startswith("Best mixed lambda") and ": 0.5, with test accuracies of items 91.50% " \
        "(+0.50 pp against the single-task CNN) and groups 95.50% (+0.50 pp)." in text["best_mixed"]
    assert "above the single-task item CNN at lambda = 0.25, 0.5 and above the single-task group CNN at lambda = " \
        "0.25, 0.5" in text["best_mixed"]
    assert "gets 94.80% on groups against 95.00%" in text["best_mixed"]
    assert "items 91.20% (+0.20 pp vs single) and groups 95.30% (+0.30 pp)." in text["learned_gradnorm"]
    assert "It trained at 40 s per epoch against 25 s for fixed lambda = 0.5." in text["learned_gradnorm"]
    assert "batch 10: items 91.70%, groups 95.60%, 90 s per epoch (3.6x the time of batch 100)" in text["batch"]
    assert "At batch 10 a 26 M-parameter network" in text["batch"]
    assert "850 of 10,000 test items are misclassified, and 300 of those (35%)" in text["errors"]
    assert "Shirt as T-shirt/top (120), Ankle boot as Bag (30). 30 of the crossings involve shoes" in text["errors"]
    assert "all in this run, 1-minute load average 1.0 at the start and 2.0 at the end" in text["speed"]


def test_prose_conditional_claims_follow_their_conditions():
    f = _findings()
    text = prose(f, BRIEF)
    assert "Every network but the probes below is trained" in text["setup"]
    assert "Every network is trained" in prose(replace(f, probes=f.probes[:1]), BRIEF)["setup"]
    # the untrained item head at lambda 0 (3%) is far below chance (10%); the group head at lambda 1 (30%) is not
    assert text["extremes"].count("far below chance") == 1 and "(3 of 10 take at least 1%" in text["extremes"]
    assert "At lambda = 1 the MTL network is even numerically the single-task item CNN" in text["extremes"]
    # the speed paragraph explains a saving only when there is one
    assert "since the expensive trunk runs once" in text["speed"]
    slow = replace(f, rows=[{**r, "spe": 50.0} for r in f.rows])
    assert "since the expensive trunk" not in prose(slow, BRIEF)["speed"]
    assert "in this run it was not cheaper than the pair" in prose(slow, BRIEF)["speed"]
    # no lambda = 0.5 network: no comparison with it (it said 'against nan s')
    no_half = replace(f, rows=[r for r in f.rows if r["lambda"] != 0.5], probes=[])
    text = prose(no_half, BRIEF)
    assert "nan" not in " ".join(text.values()) and "for fixed lambda = 0.5" not in text["learned_gradnorm"]
    # without probes the paragraphs point at the profile that has them: extended, not brief
    assert "The extended profile also trains the lambda = 0.5 network at the brief's example batch 10" in text["batch"]
    assert "the extended profile also trains" in text["recipe"] and "brief profile" not in " ".join(text.values())
    assert "recipe" not in prose(no_half, replace(BRIEF, lr_schedule="constant"))
    # no crossing errors: no list of the commonest crossings
    clean = replace(f, errors=replace(f.errors, crossing=0, pairs=[]))
    assert "commonest" not in prose(clean, BRIEF)["errors"]
    # the bar is judged only on full brief runs
    assert "bar this lab sets" in prose(f, BRIEF)["best_mixed"]
    assert "bar" not in prose(f, replace(BRIEF, train_limit=1000))["best_mixed"]
