"""Model builders: exact parameter counts, output shapes, spec parsing, summary and FLOP counting."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from mnistlab.errors import ConfigError
from mnistlab.models import (
    CNN1,
    MLP_BRIEF,
    CNNSpec,
    MLPSpec,
    build_cnn,
    build_mlp,
    forward_macs,
    model_summary,
    parse_cnn,
    parse_mlp,
    summary_rows,
)
from mnistlab.models.cnn import Flatten
from mnistlab.models.mlp import INITS
from mnistlab.tasks.common import MLP_SWEEP
from mnistlab.tasks.task4.config import DEFAULT_MODELS as CNN_SWEEP
from mnistlab.train import count_parameters


def test_brief_networks_have_the_exact_parameter_counts():
    assert count_parameters(build_mlp(MLP_BRIEF)) == 1_796_010
    assert count_parameters(build_cnn(CNN1)) == 227_306


@pytest.mark.parametrize(("text", "params"), [
    ("1000-1000", 1_796_010),
    ("1000-1000-1000", 2_797_010),
    ("512-512-512-512", 1_195_018),
    ("256-256-256-256-256", 466_698),
    ("128-128-128-128-128-128-128", 200_842),
    ("100", 79_510),   # the classic one-hidden-layer MLP of the extensions
    ("0", 7_850),      # softmax regression
])
def test_mlp_sweep_parameter_counts(text, params):
    assert count_parameters(build_mlp(parse_mlp(text))) == params


@pytest.mark.parametrize(("text", "params"), [
    ("32k4s1-64k4s2-128k4s2", 227_306),
    ("32k4s2", 63_274),
    ("32k4s1-64k4s2", 158_826),
    ("16k4s1-32k4s2-64k4s2", 72_698),
    ("32k4s1-64k4s2-128k4s2-256k4s2", 730_090),
])
def test_cnn_sweep_parameter_counts(text, params):
    assert count_parameters(build_cnn(parse_cnn(text))) == params


def test_default_sweeps_are_the_counted_ones():
    assert MLP_SWEEP[0] == "1000-1000" and len(MLP_SWEEP) == 5
    assert parse_cnn(CNN_SWEEP[0]) == CNN1 and len(CNN_SWEEP) == 5


def test_output_shapes():
    x = torch.rand(5, 1, 28, 28)
    assert build_mlp(MLP_BRIEF)(x.reshape(5, 784)).shape == (5, 10)
    assert build_mlp(MLP_BRIEF)(x).shape == (5, 10)  # flattens images itself
    for text in CNN_SWEEP:
        assert build_cnn(parse_cnn(text))(x).shape == (5, 10)
    assert build_cnn(CNNSpec(classes=3))(x).shape == (5, 3)


def test_cnn1_same_padding_shapes_follow_keras():
    shapes = [shape for name, shape, _ in summary_rows(build_cnn(CNN1), (1, 28, 28)) if name == "Conv2d"]
    assert shapes == ["(32, 28, 28)", "(64, 14, 14)", "(128, 7, 7)"]


def test_model_summary_lists_layers_and_total():
    text = model_summary(build_cnn(CNN1))
    assert "Conv2d" in text and "(128, 7, 7)" in text and "227,306" in text
    assert model_summary(build_mlp(MLP_BRIEF), (784,)).splitlines()[-1].endswith("1,796,010")


def test_forward_macs_match_hand_counts():
    assert forward_macs(build_mlp(MLP_BRIEF), (784,)) == 784 * 1000 + 1000 * 1000 + 1000 * 10
    conv = 1 * 16 * 32 * 28 * 28 + 32 * 16 * 64 * 14 * 14 + 64 * 16 * 128 * 7 * 7
    assert forward_macs(build_cnn(CNN1)) == conv + 6272 * 10


def test_spec_names_round_trip():
    for text in CNN_SWEEP:
        assert parse_cnn(parse_cnn(text).name) == parse_cnn(text)
    assert parse_mlp("1000-1000") == MLPSpec(hidden=(1000, 1000))


@pytest.mark.parametrize("bad", ["", "32", "32k4", "32k4s0", "a-b", "32k4s1--64k4s2"])
def test_bad_cnn_spec_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="CNN spec"):
        parse_cnn(bad)


@pytest.mark.parametrize("bad", ["10x10", "100--100", "100-0", "-5"])
def test_bad_mlp_spec_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="MLP spec"):
        parse_mlp(bad)


def test_cnn_that_shrinks_the_image_to_nothing_is_rejected():
    with pytest.raises(ConfigError, match="shrinks"):
        build_cnn(parse_cnn("8k3s1", padding="valid", image_size=2))


@pytest.mark.parametrize("spec", [MLP_BRIEF, MLPSpec(hidden=()), CNN1, CNNSpec(dense=(100, 50), pool_after=(1,))],
                         ids=lambda s: s.name)
def test_a_spec_owns_its_input_shape_view_depth_and_build(spec):
    model = spec.build()
    weight_layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)]
    assert spec.depth == len(weight_layers)
    assert model(torch.zeros(2, *spec.input_shape)).shape == (2, spec.classes)
    assert (spec.family, spec.view) in {("MLP", "flat"), ("CNN", "image")}
    assert "family" not in {f.name for f in dataclasses.fields(spec)}  # not part of any sub-run key


def test_pool_and_init_are_spec_fields():
    avg = CNNSpec(pool_after=(0,), pool="avg").build()
    assert any(isinstance(m, torch.nn.AvgPool2d) for m in avg) and not any(isinstance(m, torch.nn.MaxPool2d)
                                                                          for m in avg)
    with pytest.raises(ConfigError, match="pool"):
        CNNSpec(pool="median").build()
    for init in INITS:
        torch.manual_seed(0)
        first = MLPSpec(hidden=(64,), init=init).build()[1]
        assert torch.isfinite(first.weight).all()
        assert (init == "default") == bool(torch.count_nonzero(first.bias)), init
    torch.manual_seed(0)
    default = MLPSpec(hidden=(64,)).build()
    torch.manual_seed(0)
    assert torch.equal(default[1].weight, torch.nn.Linear(784, 64).weight)  # 'default' draws nothing more
    assert CNNSpec(channels=(16, 32), kernels=(3, 3), strides=(1, 1), pool_after=(0, 1), pool="avg").describe() == (
        "conv 16 3x3/1 + avg-pool, conv 32 3x3/1 + avg-pool ('same'), linear to 10; relu")
    assert MLP_BRIEF.describe() == "[784, 1000, 1000, 10] relu"


def test_cnn_flatten_is_nn_flatten_and_hands_back_a_channels_last_gradient():
    # Same values as nn.Flatten in both directions; only the gradient's memory format differs: it follows
    # the input's, so the ReLU before it compares two channels_last tensors (its vectorised path).
    x = torch.randn(3, 4, 5, 5).contiguous(memory_format=torch.channels_last).requires_grad_()
    ref = x.detach().clone().contiguous(memory_format=torch.channels_last).requires_grad_()
    out, expected = Flatten()(x), nn.Flatten()(ref)
    assert torch.equal(out, expected)
    grad = torch.randn_like(out)
    (got,), (want,) = torch.autograd.grad(out, x, grad), torch.autograd.grad(expected, ref, grad)
    assert torch.equal(got, want)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    assert not want.is_contiguous(memory_format=torch.channels_last)  # what nn.Flatten hands back
    plain = torch.randn(3, 4, 5, 5, requires_grad=True)
    assert torch.autograd.grad(Flatten()(plain), plain, torch.randn(3, 100))[0].is_contiguous()
    assert isinstance(build_cnn(CNN1)[-2], Flatten) and isinstance(Flatten(), nn.Flatten)
