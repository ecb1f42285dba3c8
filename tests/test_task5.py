"""Task 5: filter and feature-map extraction, class-logit dreaming, and reuse of Task 4's CNN-1."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.models import CNN1, CNNSpec, build_cnn
from mnistlab.models.inspect import (
    DreamConfig,
    class_dream,
    conv_activations,
    conv_filters,
    conv_layers,
    l2_penalty,
    noise_images,
    spatial_smoothness,
    strongest_channel_share,
    summarise_filters,
    tv_penalty,
)
from mnistlab.tasks import REGISTRY, task4, task5
from mnistlab.train import TrainConfig, fit
from mnistlab.viz.cnn_inside import mosaic

TINY = CNNSpec(channels=(8, 16), kernels=(4, 4), strides=(1, 2))


@pytest.fixture(scope="module")
def tiny_model() -> nn.Module:
    """A small CNN trained for one epoch on 600 digits: enough to beat chance and have class structure."""
    torch.manual_seed(0)
    x, y = load("mnist", "train", limit=600)
    model = build_cnn(TINY)
    fit(model, (x, y), None, TrainConfig(epochs=2, batch_size=20), seed=0, show_progress=False)
    model.zero_grad(set_to_none=True)
    return model.eval()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Single small batches: on the shared 2-core machine one thread is several times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_filters_and_activations_have_each_conv_layers_shape():
    model = build_cnn(CNN1)
    weights = conv_filters(model)
    assert [tuple(w.shape) for w in weights] == [(32, 1, 4, 4), (64, 32, 4, 4), (128, 64, 4, 4)]
    conv_params = sum(w.numel() for w in weights) + sum(c.bias.numel() for c in conv_layers(model))
    assert conv_params == 227_306 - (128 * 7 * 7 * 10 + 10)  # all but the dense layer on 128 x 7 x 7
    x = torch.rand(3, 1, 28, 28)
    maps = conv_activations(model, x)
    assert [tuple(m.shape) for m in maps] == [(3, 32, 28, 28), (3, 64, 14, 14), (3, 128, 7, 7)]
    assert all(bool((m >= 0).all()) for m in maps)  # taken after the ReLU
    conv1 = conv_layers(model)[0]
    expected = F.relu(conv1(F.pad(x, (1, 2, 1, 2))))  # TF 'same' padding for a 4x4 kernel, stride 1
    assert torch.allclose(maps[0], expected, atol=1e-6)


def test_activations_without_activation_layer_and_no_conv_is_an_error():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten())
    assert conv_activations(model, torch.rand(2, 1, 8, 8))[0].shape == (2, 4, 6, 6)
    with pytest.raises(MnistlabError, match="no Conv2d"):
        conv_filters(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_filter_summary_picks_the_strongest_input_channel():
    w = torch.randn(5, 6, 4, 4) * 0.01
    strongest = torch.tensor([3, 0, 5, 2, 2])
    w[torch.arange(5), strongest] *= 100
    tiles, channel = summarise_filters(w, "strongest")
    assert tiles.shape == (5, 4, 4)
    assert channel.tolist() == strongest.tolist()
    assert torch.equal(tiles[0], w[0, 3])
    mean, none = summarise_filters(w, "mean")
    assert torch.allclose(mean, w.mean(1)) and (none == -1).all()
    assert strongest_channel_share(w) > 0.99
    assert strongest_channel_share(torch.ones(4, 8, 3, 3)) == pytest.approx(1 / 8)
    with pytest.raises(ConfigError):
        summarise_filters(w, "median")


def test_smoothness_separates_smooth_kernels_from_noise():
    ramp = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(8, 1, 1, 1)
    assert spatial_smoothness(ramp) > 0.5
    gen = torch.Generator().manual_seed(0)
    assert abs(spatial_smoothness(torch.randn(256, 1, 4, 4, generator=gen))) < 0.1


def test_penalties():
    flat = torch.full((1, 1, 6, 6), 0.5)
    assert tv_penalty(flat).item() == 0
    assert l2_penalty(flat).item() == pytest.approx(36 * 0.25)
    checker = (torch.arange(36).reshape(6, 6) % 2).float()[None, None]
    assert tv_penalty(checker).item() == pytest.approx(6 * 5)  # 30 horizontal jumps of 1, no vertical ones


def test_dream_raises_the_target_logit_on_a_trained_model(tiny_model):
    gen = torch.Generator().manual_seed(0)
    init = noise_images(4, generator=gen)
    targets = [2, 9, 2, 9]
    cfg = DreamConfig(steps_per_octave=15, octaves=2, lr=0.01, l2_weight=0.02, tv_weight=0.02, snapshots=3)
    weights_before = [p.detach().clone() for p in tiny_model.parameters()]
    result = class_dream(tiny_model, init, targets, cfg, generator=gen)
    assert result.images.shape == init.shape
    assert [s.step for s in result.snapshots] == [0, 15, 30]
    assert (result.final.logit > result.start.logit + 1).all()
    assert (result.final.confidence > result.start.confidence).all()
    assert result.images.min() >= 0 and result.images.max() <= 1
    with torch.no_grad():
        logits = tiny_model(result.images)
    assert logits.argmax(1).tolist() == targets
    assert all(torch.equal(a, b) for a, b in zip(weights_before, tiny_model.parameters(), strict=True))
    assert all(p.grad is None for p in tiny_model.parameters())  # gradients were taken w.r.t. the image only


def test_regularisers_lower_their_own_terms(tiny_model):
    init = noise_images(4, generator=torch.Generator().manual_seed(1))
    targets = [0, 3, 5, 8]
    base = DreamConfig(steps_per_octave=15, octaves=2, lr=0.01)

    def dream(**weights):
        return class_dream(tiny_model, init, targets, DreamConfig(**{**base.__dict__, **weights}),
                           generator=torch.Generator().manual_seed(2))

    plain, with_l2, with_tv = dream(), dream(l2_weight=0.1), dream(tv_weight=0.1)
    assert with_l2.l2.sum() < 0.8 * plain.l2.sum()
    assert with_tv.tv.sum() < 0.8 * plain.tv.sum()


def test_dream_is_deterministic_and_checks_its_input(tiny_model):
    cfg = DreamConfig(steps_per_octave=3, octaves=2, snapshots=2)
    a = class_dream(tiny_model, torch.zeros(1, 1, 28, 28), [4], cfg, generator=torch.Generator().manual_seed(5))
    b = class_dream(tiny_model, torch.zeros(1, 1, 28, 28), [4], cfg, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.images, b.images)
    with pytest.raises(MnistlabError):
        class_dream(tiny_model, torch.zeros(2, 1, 28, 28), [4], cfg)
    with pytest.raises(ConfigError, match="octave"):
        class_dream(tiny_model, torch.zeros(1, 1, 28, 28), [4], DreamConfig(octaves=6, octave_scale=2.0))


def test_mosaic_separates_tiles_with_nan():
    out = mosaic(np.ones((5, 2, 3)), ncols=3)
    assert out.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert np.isnan(out[2]).all() and np.isnan(out[:, 3]).all()
    assert np.isnan(out[3:, 8:]).all()  # the empty sixth cell
    assert np.nansum(out) == 5 * 6


@pytest.mark.parametrize("field,value", [("octaves", 0), ("l2_weight", -1.0), ("image_rank", 5000),
                                         ("filter_summary", "median"), ("grid_source_digit", 10),
                                         ("octaves", 8)])
def test_bad_config_is_a_config_error(field, value):
    with pytest.raises(ConfigError):
        task5.TASK.config("quick", {field: value})


def test_task5_is_registered_and_its_profiles_validate():
    assert REGISTRY["task5"] is task5.TASK
    for profile in ("quick", "brief"):
        task5.TASK.config(profile).validate()


def test_task5_reuses_task4s_cnn1_and_writes_its_report(ctx):
    tiny = {"epochs": 1, "train_limit": 300, "test_limit": 200}
    task4.TASK.run(task4.TASK.config("quick", {"models": ("32k4s1-64k4s2-128k4s2",), "mlp_models": ("16",),
                                               **tiny}), ctx)
    assert (ctx.cache.hits, ctx.cache.misses) == (0, 2)

    config = task5.TASK.config("quick", {"steps_per_octave": 4, "octaves": 2, "snapshots": 3,
                                         **{f"cnn_{k}": v for k, v in tiny.items()}})
    result = task5.TASK.run(config, ctx)
    assert (ctx.cache.hits, ctx.cache.misses) == (1, 2)  # loaded, not trained again
    assert result.metrics["cnn_reused"] == 1
    for c in (2, 9):
        for kind in ("noise", "image"):
            assert 0 <= result.metrics[f"dream_confidence_{c}_{kind}"] <= 1
            assert result.metrics[f"dream_logit_{c}_{kind}"] > -1e9
    assert 0 < result.metrics["cnn_test_acc"] <= 1
    names = {f.file for f in result.figures}
    assert {"filters_conv1.png", "filters_conv2.png", "filters_conv2_full.png", "filters_conv3.png",
            "feature_maps_conv1.png", "feature_maps_conv3.png", "dream_progress.png",
            "dream_all_classes.png"} <= names
    assert all((ctx.out_dir / n).stat().st_size > 1000 for n in names)
    assert "loaded from the sub-run cache" in result.text[0]
    assert [len(t.rows) for t in (result.tables["filters"], result.tables["feature_maps"])] == [3, 3]
