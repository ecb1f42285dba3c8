"""Extension: the clock generator, the common-sense error, the five read-out variants and the task end to end."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from mnistlab.data.clocks import (
    ClockData,
    ClockStyle,
    cached_clocks,
    clock_parameters,
    common_sense_error,
    generate_clocks,
    hand_angles,
    minutes_of,
)
from mnistlab.errors import ConfigError
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.runner import run_in_context
from mnistlab.execution.subrun import Env, execute
from mnistlab.models.clock import VARIANTS, ClockModelSpec, ClockNet, clock_objective, decode_minutes, variant_targets
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.clock import TASK
from mnistlab.tasks.clock.config import Config
from mnistlab.tasks.clock.findings import Findings, VariantFindings, compute_findings, metrics
from mnistlab.tasks.clock.plan import plan
from mnistlab.tasks.clock.present import variants_table
from mnistlab.tasks.clock.prose import prose
from mnistlab.viz.clock import clock_text


def test_generator_is_deterministic_per_seed_and_labels_are_in_range():
    x, y = generate_clocks(40, 48, seed=3)
    x2, y2 = generate_clocks(40, 48, seed=3)
    assert x.shape == (40, 48, 48) and x.dtype == np.uint8 and y.shape == (40, 2) and y.dtype == np.int64
    assert x.tobytes() == x2.tobytes() and np.array_equal(y, y2)
    x3, _ = generate_clocks(40, 48, seed=4)
    assert not np.array_equal(x, x3)
    assert y[:, 0].min() >= 0 and y[:, 0].max() <= 11 and y[:, 1].min() >= 0 and y[:, 1].max() <= 59
    assert x.std() > 20  # faces, hands and backgrounds differ: not a blank image
    assert np.array_equal(minutes_of(y), y[:, 0] * 60 + y[:, 1])


def _angular_gap(a: np.ndarray, b: float) -> np.ndarray:
    return np.abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def test_hands_point_where_the_label_says_the_hour_hand_at_hour_plus_minute_over_60():
    style = ClockStyle(noise_std=(0.0, 0.0), second_hand_prob=0.0)
    size = 96
    images, labels = generate_clocks(60, size, seed=1, style=style)
    p = clock_parameters(60, size, seed=1, style=style)
    hour_angle, minute_angle = hand_angles(labels)
    grid = np.arange(size) + 0.5
    checked = 0
    for i in range(60):
        if p["ticks"][i] != 0 or _angular_gap(hour_angle[i], minute_angle[i]) < math.radians(40):
            continue  # ticks would add ink on the rings; hands too close together cannot be told apart
        x, y = grid[None, :] - p["cx"][i], grid[:, None] - p["cy"][i]
        r = np.hypot(x, y)
        alpha = np.arctan2(x, -y) - p["rotation"][i]  # clockwise from the clock's own 12
        inked = np.abs(images[i].astype(float) - p["face"][i]) > 0.6 * abs(p["ink"][i] - p["face"][i])
        # Between the hour hand's tip and the minute hand's: only the minute hand.
        ring = inked & (np.abs(r - (p["hour_len"][i] + p["minute_len"][i]) / 2) < 1.0)
        assert ring.sum() >= 1
        assert _angular_gap(alpha[ring], minute_angle[i]).max() < math.radians(12)
        # Closer in: both hands, and the hour hand where hour + minute/60 puts it.
        ring = inked & (np.abs(r - 0.65 * p["hour_len"][i]) < 1.0)
        to_hour, to_minute = _angular_gap(alpha[ring], hour_angle[i]), _angular_gap(alpha[ring], minute_angle[i])
        assert to_hour.min() < math.radians(8)
        assert np.minimum(to_hour, to_minute).max() < math.radians(20)
        checked += 1
    assert checked >= 5


def test_common_sense_error_goes_the_short_way_round_the_twelve_hour_dial():
    assert common_sense_error(0, 719) == 1 and common_sense_error(719, 0) == 1
    assert common_sense_error(360, 0) == 360 and common_sense_error(5, 5) == 0
    assert common_sense_error(1080.5, 0) == pytest.approx(359.5)  # beyond 720 wraps
    grid = np.arange(720)
    err = common_sense_error(grid[:, None], grid[None, :])
    assert err.max() == 360 and np.array_equal(err, err.T)
    t = common_sense_error(torch.tensor([0.0, 710.0]), torch.tensor([719.0, 10.0]))
    assert torch.equal(t, torch.tensor([1.0, 20.0]))
    assert clock_text(0) == "12:00" and clock_text(719.6) == "12:00" and clock_text(185) == "3:05"


def test_decoders_turn_ideal_outputs_back_into_the_true_minutes():
    minutes = torch.tensor([0, 1, 59, 60, 179, 359, 600, 719])
    hour_angle, minute_angle = minutes * (2 * math.pi / 720), (minutes % 60) * (2 * math.pi / 60)
    sincos = torch.stack([hour_angle.sin(), hour_angle.cos(), minute_angle.sin(), minute_angle.cos()], 1)
    assert torch.allclose(decode_minutes("sincos", sincos), minutes.float(), atol=1e-3)
    assert torch.allclose(decode_minutes("regression", (minutes / 60)[:, None]), minutes.float(), atol=1e-3)
    hours = torch.nn.functional.one_hot(minutes // 60, 12).float()
    assert torch.allclose(decode_minutes("multihead", (hours, ((minutes % 60) / 5)[:, None])), minutes.float(),
                          atol=1e-3)
    assert torch.equal(decode_minutes("classes720", torch.nn.functional.one_hot(minutes, 720).float()),
                       minutes.float())
    assert torch.equal(decode_minutes("classes24", torch.nn.functional.one_hot(minutes // 30, 24).float()),
                       (minutes // 30 * 30 + 15).float())
    # The sin/cos decode trusts the minute hand: an hour hand a little past 3 with the minute hand at 59 is 2:59.
    h, m = torch.tensor(3.0 * 2 * math.pi / 12), torch.tensor(59 * 2 * math.pi / 60)
    assert decode_minutes("sincos", torch.stack([h.sin(), h.cos(), m.sin(), m.cos()])[None]).item() == \
        pytest.approx(179, abs=1e-3)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_has_its_output_shapes_and_a_few_steps_lower_its_loss(variant):
    images, labels = generate_clocks(16, 32, seed=2)
    x = torch.from_numpy(images).unsqueeze(1).float() / 255
    targets = variant_targets(variant, torch.from_numpy(minutes_of(labels)))
    targets = targets if isinstance(targets, tuple) else (targets,)
    torch.manual_seed(0)
    model = ClockNet(variant, width=4)
    out = model(x)
    outs = out if isinstance(out, tuple) else (out,)
    expected = {"regression": [(16, 1)], "classes24": [(16, 24)], "classes720": [(16, 720)],
                "multihead": [(16, 12), (16, 1)], "sincos": [(16, 4)]}[variant]
    assert [tuple(o.shape) for o in outs] == expected
    pred = model.minutes(out)
    assert pred.shape == (16,) and bool(((pred >= 0) & (pred < 720)).all())
    objective = clock_objective(variant)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        out = model(x)
        loss = objective(out if isinstance(out, tuple) else (out,), targets)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_task_end_to_end_on_tiny_settings_and_a_rerun_trains_nothing(ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # the local data cache, not ~/.cache
    ctx.cache = SubRunCache(tmp_path / "subrun-cache")  # the sub-run cache the runner's executor uses
    config = Config(n_images=120, image_size=32, test_fraction=0.25, epochs=2, batch_size=16, width=4, samples=4,
                    unseen_images=20, val_images=24, downsample=1)
    config.validate()
    result = run_in_context(TASK, config, ctx)
    config = for_device(config, ctx.device)  # the config as the runner ran it
    m = result.metrics
    for v in VARIANTS:
        assert 0 <= m[f"{v}_mae_minutes"] <= 360 and 0 <= m[f"{v}_within5"] <= m[f"{v}_within15"] <= 1
        assert m[f"{v}_params"] > 1000
        assert 0 <= m[f"{v}_unseen_mae_minutes"] <= 360
    # The best variant is the one with the lowest error on the validation clocks, not on the test clocks.
    val = {v: ctx.trained(run).record["val_mae"] for v, run in zip(VARIANTS, TASK.sub_runs(config, 0), strict=True)}
    best = min(val, key=val.get)
    assert m["n_test"] == 30 and m["best_chosen_on_validation"] == 1.0
    assert m["best_mae_minutes"] == m[f"{best}_mae_minutes"]
    assert result.paragraphs["best"].startswith("Best (the lowest error on the validation clocks)")
    assert list(result.paragraphs.values()) == list(prose(compute_findings(config, ctx), config).values())
    assert ctx.cache.misses == len(VARIANTS)  # one network per variant (the data live in the local data cache)
    assert len(list((tmp_path / "user-cache" / "mnistlab" / "clocks").iterdir())) == 3  # own, validation, unseen
    assert {"samples.png", "errors.png", "curves.png"} <= {p.name for p in ctx.out_dir.iterdir()}
    assert len(result.tables["variants"].rows) == len(VARIANTS) and list(result.paragraphs.values())
    again = run_in_context(TASK, config, ctx)
    assert ctx.cache.misses == len(VARIANTS) and ctx.cache.hits == len(VARIANTS)
    assert again.metrics == pytest.approx(m)


def test_variants_parse_from_the_command_line():
    assert TASK.parse_override("variants", "sincos,regression") == ("sincos", "regression")
    assert TASK.config("quick", {"variants": ("sincos",)}).variants == ("sincos",)


@pytest.mark.parametrize("bad", [{"n_images": 10}, {"image_size": 8}, {"test_fraction": 1.0}, {"test_fraction": 0.001},
                                 {"variants": ("nope",)}, {"variants": ()}, {"variants": ("sincos", "sincos")},
                                 {"max_rotation_deg": 20.0}, {"noise_max": 1.0}, {"width": 2}, {"epochs": 0},
                                 {"precision": "fp16"}, {"samples": 0}, {"second_hand_prob": 1.5},
                                 {"pool": "max"}, {"downsample": 3, "image_size": 64}, {"smooth720": -1.0},
                                 {"unseen_images": -1}])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TASK.config("quick", bad)


@pytest.mark.parametrize(("bad", "message"), [
    ({"image_size": 8}, "image_size must be between 32 and 512 pixels, got 8"),
    ({"test_fraction": 0.001}, "test_fraction 0.001 of 4000 images leaves 4 test and 3996 training images; each "
                               "needs at least 10"),
    ({"variants": ("nope",)}, "unknown clock variant 'nope'; choose from regression, classes24, classes720, "
                              "multihead, sincos"),
    ({"variants": ()}, "variants must name at least one of regression, classes24, classes720, multihead, sincos"),
    ({"variants": ("sincos", "sincos")}, "variants lists a variant twice: sincos, sincos"),
    ({"max_rotation_deg": 20.0}, "max_rotation_deg must be in [0, 16.36) so that the hour stays readable from the "
                                 "hands, got 20.0"),
    ({"noise_max": 1.0}, "noise_max must be at least 2 grey levels (the lower end of the noise), got 1.0"),
    ({"noise_max": 150.0}, "noise_max must be at most 100 grey levels, got 150.0"),
    ({"width": 2}, "width must be between 4 and 128 channels, got 2"),
    ({"hidden": 5000}, "hidden must be between 0 (none) and 4096 units, got 5000"),
    ({"downsample": 3, "image_size": 64}, "downsample 3 of 64-pixel clocks leaves 21 pixels; use 1-4 and keep at "
                                          "least 24"),
    ({"smooth720": -1.0}, "smooth720 must be between 0 (one-hot targets) and 60 minutes, got -1.0"),
    ({"unseen_images": -1}, "unseen_images must be between 0 (none) and 50,000, got -1"),
    ({"second_hand_prob": 1.5}, "second_hand_prob must be in [0, 1], got 1.5"),
    ({"lr": 0.0}, "lr (the learning rate) must be a positive number, got 0.0"),
])
def test_bad_options_say_what_is_wrong_in_one_line(bad, message):
    with pytest.raises(ConfigError) as refused:
        TASK.config("quick", bad)
    assert str(refused.value) == message


def test_generator_refuses_impossible_requests():
    with pytest.raises(ConfigError):
        generate_clocks(0, 32)
    with pytest.raises(ConfigError, match="max_rotation_deg"):
        generate_clocks(2, 32, style=ClockStyle(max_rotation_deg=30))


def test_second_face_family_draws_numerals_and_keeps_the_first_family_unchanged():
    ticks, labels = generate_clocks(8, 64, seed=5)
    numerals, labels2 = generate_clocks(8, 64, seed=5, style=ClockStyle(family="numerals"))
    assert np.array_equal(labels, labels2)  # the same times, drawn another way
    assert not np.array_equal(ticks, numerals)
    again, _ = generate_clocks(8, 64, seed=5, style=ClockStyle(family="numerals"))
    assert numerals.tobytes() == again.tobytes()
    p = clock_parameters(8, 64, seed=5, style=ClockStyle(family="numerals"))
    assert (p["ticks"] == 0).all() and (p["minute_len"] > p["hour_len"]).all() and (p["cap"] > 0).all()
    with pytest.raises(ConfigError, match="family"):
        ClockStyle(family="roman").validate()


def test_clock_data_is_cached_locally_verified_and_regenerated_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = ClockData(n_images=12, image_size=32, style=ClockStyle(), n_test=4, seed=1, n_unseen=5)
    images, labels = data.load()
    assert images.shape == (12, 32, 32) and labels.shape == (12, 2)
    expected, _ = generate_clocks(12, 32, seed=1)
    assert np.array_equal(images, expected)
    folders = list((tmp_path / "mnistlab" / "clocks").iterdir())
    assert len(folders) == 1 and not any(p.name.startswith(".partial") for p in folders)
    *_, info = cached_clocks(12, 32, 1, ClockStyle())
    assert info["cached"]
    damaged = folders[0] / "images.npy"
    raw = bytearray(damaged.read_bytes())
    raw[-1] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    *_, info = cached_clocks(12, 32, 1, ClockStyle())
    assert not info["cached"]  # the digest caught the flipped byte: generated again
    assert np.array_equal(data.load()[0], expected)
    u_images, _ = data.load_unseen()
    assert u_images.shape == (5, 32, 32) and data.unseen_style().family == "numerals"


def test_clock_model_spec_builds_every_pooling_and_refuses_bad_ones():
    x = torch.rand(2, 1, 48, 48)
    for pool in ("avg", "grid2", "grid4"):
        for coord in (False, True):
            model = ClockModelSpec("multihead", width=4, pool=pool, coord=coord, hidden=8).build()
            hour, minute = model(x)
            assert hour.shape == (2, 12) and minute.shape == (2, 1)
    with pytest.raises(ConfigError, match="pool"):
        ClockModelSpec("sincos", pool="max").build()
    with pytest.raises(ConfigError, match="width"):
        ClockModelSpec("sincos", width=2).build()


def test_a_mirrored_clock_shows_twelve_minus_its_time():
    style = ClockStyle(noise_std=(0.0, 0.0), second_hand_prob=0.0, max_rotation_deg=0.0)
    images, labels = generate_clocks(30, 96, seed=7, style=style)
    p = clock_parameters(30, 96, seed=7, style=style)
    mirrored_minutes = (720 - minutes_of(labels)) % 720
    hour_angle, minute_angle = hand_angles(np.stack([mirrored_minutes // 60, mirrored_minutes % 60], 1))
    grid = np.arange(96) + 0.5
    checked = 0
    for i in range(30):
        if p["ticks"][i] != 0 or _angular_gap(hour_angle[i], minute_angle[i]) < math.radians(40):
            continue
        image = images[i][:, ::-1]  # the mirror image, its centre mirrored with it
        x, y = grid[None, :] - (96 - p["cx"][i]), grid[:, None] - p["cy"][i]
        r, alpha = np.hypot(x, y), np.arctan2(x, -y)
        inked = np.abs(image.astype(float) - p["face"][i]) > 0.6 * abs(p["ink"][i] - p["face"][i])
        ring = inked & (np.abs(r - (p["hour_len"][i] + p["minute_len"][i]) / 2) < 1.0)
        assert ring.sum() >= 1 and _angular_gap(alpha[ring], minute_angle[i]).max() < math.radians(15)
        checked += 1
    assert checked >= 3


def test_training_on_mirror_images_doubles_the_training_clocks(ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    config = Config(n_images=60, image_size=32, test_fraction=0.25, epochs=1, batch_size=16, width=4,
                    variants=("sincos",), unseen_images=0, downsample=1, mirror_train=True)
    config.validate()
    (run,) = plan(config, 0)
    outcome = execute(run, Env(device=torch.device("cpu"), show_progress=False))
    steps = outcome.record["history"][0]
    assert outcome.record["n_train"] == 45 and outcome.arrays["pred_minutes"].shape == (15,)
    assert steps["train_loss"] > 0 and "unseen_mae" not in outcome.record
    # The engine scores the reader's mean error itself, on the training and the test clocks (one unnamed head)
    assert set(steps) == {"epoch", "seconds", "threads", "train_loss", "train_mae", "test_mae"}
    assert 0 <= steps["train_mae"] <= 360
    errors = common_sense_error(outcome.arrays["pred_minutes"].astype(float), outcome.arrays["true_minutes"])
    assert steps["test_mae"] == pytest.approx(float(np.mean(errors)), abs=1e-3)


def test_extra_training_clocks_leave_the_test_split_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    base = Config(n_images=60, image_size=32, test_fraction=0.25, epochs=1, batch_size=16, width=4,
                  variants=("classes24",), unseen_images=0, val_images=0, downsample=1)
    env = Env(device=torch.device("cpu"), show_progress=False)
    plain, more = (execute(plan(c, 0)[0], env) for c in (base, replace(base, extra_train_images=30)))
    assert (plain.record["n_train"], more.record["n_train"]) == (45, 75)
    np.testing.assert_array_equal(plain.arrays["true_minutes"], more.arrays["true_minutes"])
    extra_images, _ = replace(base, extra_train_images=30).data(0).load_extra()
    own_images, _ = base.data(0).load()
    assert extra_images.shape == (30, 32, 32) and not any((e == own_images).all((1, 2)).any() for e in extra_images)


# ---- the prose against hand-made findings: every claim is checked by paragraph id ----------------------

QUICK = TASK.config("quick")


def _reader(variant: str, mae: float, *, val: float | None = None, n: int = 100, seed: int = 0,
            mirrored: float | None = None, unseen: float | None = None) -> VariantFindings:
    """A reader whose test errors average `mae` minutes (readings = the true minutes of `_true` plus them)."""
    rng = np.random.default_rng(seed)
    errors = np.clip(rng.exponential(mae, n), 0, 360)
    errors *= mae / errors.mean()
    pred = (_true(n) + errors) % 720
    history = [{"epoch": e, "seconds": 10.0, "train_loss": 1.0 / e, "train_mae": 2 * mae / e,
                "test_mae": 1.5 * mae / e + mae * (1 - 1.5 / e)} for e in (1, 2, 3)]

    def scaled(target: float | None) -> np.ndarray | None:
        return None if target is None else errors * (target / mae)

    return VariantFindings(variant, 100_000, history, 30.0, 2.0, val, pred, errors, scaled(mirrored), scaled(unseen))


def _true(n: int = 100) -> np.ndarray:
    return (np.arange(n) * 7919) % 720


def _clock_findings(**readers: VariantFindings) -> Findings:
    readers = readers or {
        "regression": _reader("regression", 60.0, val=70.0, mirrored=55.0, unseen=100.0),
        "classes24": _reader("classes24", 20.0, val=22.0, seed=1, mirrored=19.0, unseen=60.0),
        "classes720": _reader("classes720", 8.0, val=9.0, seed=2, mirrored=7.0, unseen=30.0),
        "multihead": _reader("multihead", 12.0, val=13.0, seed=3, mirrored=11.0, unseen=40.0),
        "sincos": _reader("sincos", 15.0, val=16.0, seed=4, mirrored=14.0, unseen=50.0)}
    rng = np.random.default_rng(9)
    return Findings(dict(readers), _true(), 3200, np.zeros((4, 8, 8), np.uint8), rng.uniform(0, 15, 100),
                    rng.choice([0, 12, 60], 100), 15.0)


def test_clock_prose_has_every_paragraph_in_report_order():
    text = prose(_clock_findings(), QUICK)
    assert list(text) == ["best", "unseen", "mirror", "rotation", "runner-up", "classes24", "classes720", "multihead",
                          "regression", "regression-result", "curves"]
    assert all(text.values()) and "nan" not in " ".join(text.values())
    assert text["best"].startswith("Best (the lowest error on the validation clocks): 720 classes (minutes), 8.0 ")


def test_clock_paragraphs_declare_their_findings_and_the_one_seed_order_declares_none():
    text = prose(_clock_findings(), QUICK)
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    # every result paragraph leads with its finding; the method ('regression': why the wrapped loss) and the order
    # of readers trained once each ('runner-up': one seed, cannot tell the variants apart) declare none
    assert {key for key, finding in found.items() if not finding} == {"runner-up", "regression"}
    assert all(text[key].startswith(finding) for key, finding in found.items())
    assert found["best"].startswith("Best (the lowest error on the validation clocks): 720 classes (minutes), 8.0 ")
    assert "A constant guess" not in found["best"] and "A constant guess" in text["best"]
    assert "30.0 minutes off on average" in found["unseen"] and "numerals" not in found["unseen"]
    assert "gave 7.00 minutes against 8.00 from one reading (1.00 minutes better)" in found["mirror"]
    assert found["rotation"].startswith("Where the large errors are: 720 classes (minutes) was more than 15 minutes")
    assert "margin" not in found["rotation"] and "margin of 15 degrees" in text["rotation"]
    assert "scored 20.0 minutes" in found["classes24"] and "cannot beat" not in found["classes24"]
    assert found["classes720"] == ("720 classes with soft targets (a circular Gaussian of 5 minutes around the true "
                                   "minute) scored 8.0 minutes (median " + found["classes720"].split("(median ")[1])
    assert found["multihead"].startswith("Hour class + minute regression scored 12.0 minutes.")
    assert found["curves"] == "Learning curves over 3 epoch(s): every variant left chance (a test mean error below " \
        "135 minutes, three quarters of chance)."
    assert "one seed" not in " ".join(found.values())
    assert all(len(finding) <= 320 for finding in found.values())
    stuck = _clock_findings(regression=_reader("regression", 170.0, val=171.0), sincos=_reader("sincos", 15.0))
    stuck_found = {key: finding_of(paragraph) for key, paragraph in prose(stuck, QUICK).items()}
    assert stuck_found["regression-result"] == "In this run the regression stayed close to chance (170.0 minutes " \
        "against 180)."
    assert stuck_found["curves"] == "Learning curves over 3 epoch(s): 1 of the 2 variants left chance (a test mean " \
        "error below 135 minutes). Still near chance: regression, cyclic loss."


def test_the_best_variant_named_is_the_one_with_the_lowest_validation_error():
    f = _clock_findings()
    # multi-head is worse on the test clocks than 720 classes but best on the validation clocks
    f = replace(f, variants={**f.variants, "multihead": replace(f.variants["multihead"], val_mae=5.0)})
    text = prose(f, QUICK)
    assert f.best.variant == "multihead" and metrics(f)["best_mae_minutes"] == pytest.approx(12.0)
    assert text["best"].startswith("Best (the lowest error on the validation clocks): hour class + minute regression")
    # the runner-up (720 classes) is the better reader on the test clocks: said so, not 'worse' by a negative number
    assert "Runner-up: 720 classes (minutes) at 8.0 minutes, 4.0 minutes better per clock" in text["runner-up"]
    assert "-4.0" not in text["runner-up"]
    assert "Order of all variants (by their error on the validation clocks), with their test errors: hour class " \
        "+ minute regression 12.0, 720 classes (minutes) 8.0" in text["runner-up"]
    # without validation clocks the test clocks choose, and the text says so
    no_val = replace(f, variants={v: replace(r, val_mae=None) for v, r in f.variants.items()})
    assert no_val.best.variant == "classes720" and metrics(no_val)["best_chosen_on_validation"] == 0.0
    assert prose(no_val, QUICK)["best"].startswith("Best (the lowest error on the test clocks): 720 classes")
    assert "Order of all variants: 720 classes (minutes) 8.0, hour class" in prose(no_val, QUICK)["runner-up"]


def test_clock_paragraphs_whose_subject_did_not_run_are_left_out():
    f = _clock_findings()
    no_mirror = replace(f, variants={v: replace(r, mirrored=None, unseen=None) for v, r in f.variants.items()})
    text = prose(no_mirror, QUICK)
    assert "mirror" not in text and "unseen" not in text
    assert "mean error with mirror, min" not in variants_table(no_mirror, QUICK).columns
    only = _clock_findings(sincos=_reader("sincos", 15.0, val=16.0))
    assert list(prose(only, QUICK)) == ["best", "rotation", "curves"]


def test_a_regression_at_chance_is_called_so():
    f = _clock_findings()
    learned = prose(f, QUICK)["regression-result"]
    assert "test clocks within 30 minutes of 12 o'clock was" in learned and "chance" not in learned
    stuck = replace(f, variants={**f.variants, "regression": _reader("regression", 170.0, val=171.0)})
    text = prose(stuck, QUICK)
    assert text["regression-result"].startswith("In this run the regression stayed close to chance (170.0 minutes")
    assert "Still near chance: regression, cyclic loss." in text["curves"]
    assert text["regression"].startswith("Why the regression needs the cyclic loss")


def test_the_unseen_style_verdict_follows_the_error():
    def unseen_text(u: float) -> str:
        f = _clock_findings()
        best = replace(f.variants["classes720"], unseen=np.full(100, u))
        return prose(replace(f, variants={**f.variants, "classes720": best}), QUICK)["unseen"]

    assert "about as well as the one it was trained on" in unseen_text(10.0)
    assert "part of what it learned belongs to the one drawing" in unseen_text(100.0)  # it said 'barely better'
    assert "barely better than a guess" in unseen_text(150.0)
    assert "no better than a guess" in unseen_text(200.0)


def test_720_classes_count_the_mirror_images_among_their_training_clocks():
    f = _clock_findings()
    assert "about 4 training clocks per class" in prose(f, QUICK)["classes720"]  # 3,200 / 720
    assert "about 9 training clocks per class" in prose(f, replace(QUICK, mirror_train=True))["classes720"]


def test_the_rotation_paragraph_leaves_out_what_this_run_has_not():
    f = _clock_findings()
    text = prose(f, QUICK)["rotation"]
    assert "of the clocks turned by 0-5 degrees" in text and "margin of 15 degrees" in text
    assert "but of 1.2 for one turned by 15 degrees" in text
    upright = replace(f, rotation=np.zeros(100), max_rotation_deg=0.0)
    text = prose(upright, QUICK)["rotation"]
    assert "nan" not in text and "turned by" not in text and "margin" not in text
    assert math.isnan(metrics(upright)["best_share_over15_rotation_band1"])  # no clock in that band: no number
