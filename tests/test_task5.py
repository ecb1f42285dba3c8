"""Task 5: filter and feature-map extraction, class-logit dreaming, and reuse of Task 4's CNN-1."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.execution.runner import run_in_context
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
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.task5.findings import (
    DreamGrid,
    DreamRow,
    FilterLayer,
    Findings,
    MapLayer,
    Network,
    Probe,
    compute_findings,
    metrics,
)
from mnistlab.tasks.task5.prose import prose
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
    run_in_context(task4.TASK, task4.TASK.config("quick", {"models": ("32k4s1-64k4s2-128k4s2",), "mlp_models": ("16",),
                                               **tiny}), ctx)
    assert (ctx.cache.hits, ctx.cache.misses) == (0, 2)

    config = task5.TASK.config("quick", {"steps_per_octave": 4, "octaves": 2, "snapshots": 3,
                                         **{f"cnn_{k}": v for k, v in tiny.items()}})
    result = run_in_context(task5.TASK, config, ctx)
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
    config = for_device(config, ctx.device)  # the config as the runner ran it
    findings = compute_findings(config, ctx)  # the report is the prose of the findings, in id order
    assert result.paragraphs == prose(findings, config)
    assert findings.network.reused and "loaded from the sub-run cache" in prose(findings, config)["network"]
    assert result.metrics == metrics(findings)
    assert [len(t.rows) for t in (result.tables["filters"], result.tables["feature_maps"])] == [3, 3]


# ---- prose by paragraph id, against hand-made findings ------------------------------------------------

def _dream(target: int, kind: str, regularised: bool = True, **changes) -> DreamRow:
    other = 9 if target == 2 else 2
    row = DreamRow(
        target=target, kind=kind, regularised=regularised,
        start="noise" if kind == "noise" else f"test #{7 if other == 9 else 1} ('{other}')", steps=(0, 75, 150),
        confidence=(0.1, 0.5, 0.95), images=np.zeros((3, 28, 28)), start_logit=0.0,
        final_logit=5.0 if regularised else 8.0, predicted=target, l2=10.0 if regularised else 20.0,
        tv=5.0 if regularised else 15.0, mean_change=0.1, ink_added=30.0, ink_removed=10.0,
        start_correlation=0.8 if kind == "image" else None)
    return replace(row, **changes)


def _findings(**changes) -> Findings:
    network = Network(params=227_306, train_acc=0.995, test_acc=0.9903, n_train=60000, n_test=10000, epochs=10,
                            batch_size=128, lr=1e-3, reused=True, task4_recipe=True, profile="brief")
    edges = np.concatenate([np.full((2, 4), 0.1), np.full((2, 4), -0.1)])  # a positive lobe beside a negative one
    filters = tuple(FilterLayer(layer=i + 1, weight=np.tile(edges, (o, c, 1, 1)), tiles=np.zeros((o, 4, 4)),
                                      smoothness=s, smoothness_init=0.01, strongest_share=share)
                    for i, (o, c, s, share) in enumerate([(32, 1, 0.45, None), (64, 32, 0.2, 0.08),
                                                          (128, 64, 0.1, 0.04)]))
    maps = tuple(MapLayer(layer=i + 1, maps=np.zeros((2, c, h, h)), zero=zero, silent=(0, 1), cosine=cos)
                 for i, (c, h, zero, cos) in enumerate([(32, 28, (0.5, 0.55), 0.7), (64, 14, (0.6, 0.65), 0.5),
                                                        (128, 7, (0.7, 0.75), 0.3)]))
    probe = Probe(index={2: 1, 9: 7}, images=np.zeros((2, 28, 28)), predicted=(2, 9), confidence=(0.99, 0.98))
    dreams = (_dream(2, "noise"), _dream(2, "image"), _dream(9, "noise"), _dream(9, "image"),
              _dream(2, "noise", False), _dream(9, "noise", False))
    confidence = np.full((2, 10), 0.97)
    confidence[0, 1] = 0.6
    penalty = np.ones((2, 10))
    penalty[0, 1] = 3.0
    grid = DreamGrid(source_index=61, starts=np.zeros((2, 28, 28)), images=np.zeros((2, 10, 28, 28)),
                           confidence=confidence, penalty=penalty)
    base = Findings(network=network, filters=filters, probe=probe, maps=maps, dreams=dreams, grid=grid, seed=0)
    return replace(base, **changes)


def _with(f: Findings, key: str, **changes) -> Findings:
    """`f` with one dream row changed."""
    return replace(f, dreams=tuple(replace(d, **changes) if d.key == key else d for d in f.dreams))


CONFIG = task5.TASK.config("brief")


def test_prose_has_every_paragraph_by_id_and_quotes_the_findings():
    text = prose(_findings(), CONFIG)
    assert list(text) == ["network", "filters", "feature_maps", "dreams"]
    assert "(227,306 parameters" in text["network"] and "test accuracy 99.03% on 10,000 test images" in text["network"]
    assert "60,000 training images, 10 epoch(s), batch 128, Adam lr 0.001" in text["network"]
    assert "conv1 0.45 (at initialisation 0.01), conv2 0.20" in text["filters"]
    assert "conv2 0.08 (even spread: 0.03), conv3 0.04 (even spread: 0.02)" in text["filters"]
    assert "all 32 conv1 kernels" in text["filters"] and "full grid of conv2's 64 x 32 kernels" in text["filters"]
    assert "test images #1 ('2') and #7 ('9'), the 1st test image" in text["feature_maps"]
    assert "conv3: 70% / 75% of units zero, cosine similarity of the two images' maps 0.30" in text["feature_maps"]
    assert "p(2) rises from 0.100 to 0.950 and p(9) from 0.100 to 0.950" in text["dreams"]
    assert "at logit 8.0 / 8.0 against 5.0 / 5.0 with them" in text["dreams"]
    assert "3.0x / 3.0x the total variation and 2.0x / 2.0x the ink" in text["dreams"]
    # the findings the report lists: what each of the brief's three questions found, leading its paragraph; the
    # network paragraph says which network and how it was obtained (setup) and states none
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert found["network"] == ""
    assert found["filters"] == ("Filters: training made conv1's kernels smooth: adjacent weights now correlate at "
                                "0.45 against 0.01 for the same kernels at initialisation, so they have become "
                                "oriented edge and stroke detectors (a positive lobe beside a negative one) rather "
                                "than pixel noise.")
    assert found["feature_maps"] == ("Feature maps: the similarity of the two digits' maps decreases with depth "
                                     "(cosine conv1 0.70, conv2 0.50, conv3 0.30); the activations get sparser with "
                                     "depth.")
    assert found["dreams"] == ("Deep dream: from noise, p(2) rises from 0.100 to 0.950 and p(9) from 0.100 to 0.950; "
                               "from a real image of the other digit, the '9' reaches p(2) = 0.950 (from 0.1000) and "
                               "the '2' reaches p(9) = 0.950 (from 0.1000).")
    assert all(text[key].startswith(finding) for key, finding in found.items())
    assert "all 32 conv1 kernels" not in found["filters"] and "test images #1" not in found["feature_maps"]


def test_network_paragraph_says_how_the_network_was_obtained():
    f = _findings()
    loaded = prose(f, CONFIG)["network"]
    assert "loaded from the sub-run cache" in loaded and "Task 4's recipe" in loaded and "trained here" not in loaded
    other = prose(replace(f, network=replace(f.network, task4_recipe=False)), CONFIG)["network"]
    assert "loaded from the sub-run cache" in other and "Task 4" not in other.split("dense 10)")[1]
    fresh = prose(replace(f, network=replace(f.network, reused=False)), CONFIG)["network"]
    assert "trained here, once; Task 4 will load the same checkpoint" in fresh and "loaded from" not in fresh
    own = prose(replace(f, network=replace(f.network, reused=False, task4_recipe=False)), CONFIG)["network"]
    assert "trained here, once" in own and "Task 4 will load" not in own and "brief profile" in own


def test_filter_claims_follow_the_measurements():
    f = _findings()
    assert "training made conv1's kernels smooth" in prose(f, CONFIG)["filters"]
    assert f.filters[0].two_signed == 1 and "edge and stroke detectors" in prose(f, CONFIG)["filters"]
    blobs = replace(f, filters=(replace(f.filters[0], weight=np.abs(f.filters[0].weight)), *f.filters[1:]))
    text = prose(blobs, CONFIG)["filters"]
    assert "edge and stroke detectors" not in text and "only 0% of them set a positive lobe" in text
    unsmooth = replace(f, filters=(replace(f.filters[0], smoothness=0.05), *f.filters[1:]))
    text = prose(unsmooth, CONFIG)["filters"]
    assert "smooth:" not in text and "still close to their random initialisation" in text
    assert finding_of(text).startswith("Filters: conv1's kernels are still close to their random initialisation")
    assert "spread over many input channels" in prose(f, CONFIG)["filters"]
    concentrated = replace(f, filters=(*f.filters[:2], replace(f.filters[2], strongest_share=0.9)))
    assert "spread over many input channels" not in prose(concentrated, CONFIG)["filters"]
    mean = prose(f, task5.TASK.config("brief", {"filter_summary": "mean"}))["filters"]
    assert "the mean over input channels" in mean and "largest L2 norm" not in mean


def test_feature_map_trends_are_claimed_only_when_measured():
    f = _findings()
    text = prose(f, CONFIG)["feature_maps"]
    assert "decreases with depth" in text and "get sparser with depth" in text
    maps = (f.maps[0], replace(f.maps[1], cosine=0.8, zero=(0.6, 0.5)), f.maps[2])
    text = prose(replace(f, maps=maps), CONFIG)["feature_maps"]  # the '9' is less sparse in conv2
    assert "decreases with depth" not in text and "does not fall steadily" in text
    assert "get sparser" not in text and "does not grow monotonically" in text


def test_dream_claims_follow_the_measurements():
    f = _findings()
    text = prose(f, CONFIG)["dreams"]
    assert "so small, local edits suffice" in text and "removed where the source digit's strokes" in text
    assert "the unregularised ascent buys its extra score" in text
    assert "class(es) 1 stay below 0.9, the ones whose evidence the regularisers price highest" in text
    falls = prose(_with(f, "9_noise", confidence=(0.3, 0.2, 0.1)), CONFIG)["dreams"]
    assert "p(2) rises from 0.100 to 0.950 and p(9) falls from 0.300 to 0.100" in falls
    stays = prose(_with(f, "9_image", predicted=2), CONFIG)["dreams"]
    assert "suffice" not in stays and "do not make the network predict the target class" in stays
    kept = prose(_with(f, "9_image", ink_removed=0.0), CONFIG)["dreams"]
    assert "removed where" not in kept and "little of the source digit's ink is removed" in kept
    no_gain = prose(_with(f, "2_noise_unregularised", final_logit=4.0), CONFIG)["dreams"]
    assert "buys its extra score" not in no_gain and "do not show their usual effect" in no_gain
    cheap = replace(f, grid=replace(f.grid, penalty=np.ones((2, 10))))
    assert "price highest" not in prose(cheap, CONFIG)["dreams"]
    all_high = replace(f, grid=replace(f.grid, confidence=np.full((2, 10), 0.97)))
    assert "stay below 0.9" not in prose(all_high, CONFIG)["dreams"]
