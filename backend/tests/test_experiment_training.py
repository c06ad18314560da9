"""The segmenter training of the polygon-scored experiment (experiment/training.py) on tiny data with the real
U-Net: early stopping fires `patience` checks after the best one and the best weights are returned; the classical
augmentation is one of the 8 flips/rotations (the same for image and target) times a brightness scale in
[0.8, 1.2]; every step has the full real batch with the extras on top, and the real draws do not depend on them."""

import numpy as np
import pytest

from mapsynth_backend.experiment import segmenter, training

BANDS, SIZE = 2, 16


def _pool(n: int, value, target, rng) -> training.Pool:
    images = (value + rng.normal(0, 0.1, (n, BANDS, SIZE, SIZE))).astype(np.float32)
    return training.Pool(images, np.full((n, SIZE, SIZE), target, np.uint8))


def _independent_loss(model, images: np.ndarray, targets: np.ndarray, stats) -> float:
    """Mean cross-entropy over all pixels, computed here with torch's functional API."""
    import torch

    with torch.inference_mode():
        logits = model(torch.from_numpy(segmenter.normalise(images, *stats)))
        return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets.astype(np.int64))))


def test_early_stopping_stops_patience_checks_after_the_best_and_returns_the_best_weights():
    """Trained on class 0 everywhere, validated on a block whose pixels are 80 % class 0: the validation loss falls
    while the predicted share of class 0 rises towards 0.8, then grows as the model becomes sure of class 0; so
    training must stop long before max_steps, and the returned weights must be the best check's, not the last
    step's."""
    rng = np.random.default_rng(0)
    real, validation = _pool(8, 1.0, 0, rng), _pool(4, 1.0, 1, rng)
    validation.targets[rng.random(validation.targets.shape) < 0.8] = 0
    stats = segmenter.band_stats(real.images)
    schedule = training.Schedule(max_steps=300, batch_size=4, extra_per_step=0, validate_every=4, patience=3)
    model, info = training.train(real, None, validation, stats, 2, schedule, seed=0)

    history = info["validation_losses"]
    steps = [s for s, _ in history]
    assert steps == list(range(4, info["steps"] + 1, 4)), "a check every validate_every steps, up to the stop"
    best_index = int(np.argmin([loss for _, loss in history]))
    assert info["best_step"] == steps[best_index] > steps[0], "the test needs a best check after the first"
    assert info["best_validation_loss"] == history[best_index][1]
    assert info["steps"] == info["best_step"] + schedule.patience * schedule.validate_every
    assert info["steps"] < schedule.max_steps // 4, "early stopping never fired"
    assert all(loss >= info["best_validation_loss"] for _, loss in history[best_index + 1 :])

    returned = _independent_loss(model, validation.images, validation.targets, stats)
    assert returned == pytest.approx(info["best_validation_loss"], rel=1e-4)
    last = history[-1][1]
    assert last > info["best_validation_loss"] * 1.01, "the test needs the last weights to be worse than the best"
    assert returned < last * 0.99, "the last step's weights were returned, not the best check's"


def test_without_a_plateau_training_runs_to_max_steps():
    rng = np.random.default_rng(1)
    real = _pool(8, 1.0, 0, rng)
    validation = training.Pool(real.images[:4].copy(), real.targets[:4].copy())  # improves as long as it trains
    stats = segmenter.band_stats(real.images)
    schedule = training.Schedule(max_steps=12, batch_size=4, extra_per_step=0, validate_every=4, patience=1)
    _, info = training.train(real, None, validation, stats, 2, schedule, seed=0)
    assert info["steps"] == 12 and [s for s, _ in info["validation_losses"]] == [4, 8, 12]
    assert info["best_step"] == 12


def _symmetries(array: np.ndarray, axes=(0, 1)) -> list[np.ndarray]:
    """The 8 flips/rotations of the last two axes, by numpy: rot90 k times, then optionally a left-right flip."""
    out = []
    for turns in range(4):
        rotated = np.rot90(array, turns, axes=axes)
        out += [rotated, np.flip(rotated, axis=axes[1])]
    return out


def test_classical_is_one_of_eight_symmetries_times_a_brightness_scale():
    target = np.arange(36, dtype=np.uint8).reshape(6, 6)  # every pixel distinct: the symmetry is identifiable
    image = np.stack([target * 1.0 + 1, 50.0 - target]).astype(np.float32)
    rng = np.random.default_rng(0)
    seen, scales = set(), []
    for _ in range(400):
        out_image, out_target = training.classical(image, target, rng)
        assert out_image.shape == image.shape and out_target.shape == target.shape
        assert out_target.dtype == target.dtype
        matches = [i for i, t in enumerate(_symmetries(target)) if np.array_equal(t, out_target)]
        assert len(matches) == 1, "the target is not a flip/rotation of the input"
        index = matches[0]
        expected = _symmetries(image, axes=(1, 2))[index]  # the image gets the same symmetry as the target
        scale = out_image / expected
        assert np.allclose(scale, scale.flat[0], rtol=1e-5), "one brightness scale for every pixel and band"
        seen.add(index)
        scales.append(float(scale.flat[0]))
    assert seen == set(range(8)), "each of the 8 flips/rotations occurs"
    assert 0.8 <= min(scales) < 0.83 and 1.17 < max(scales) <= 1.2, "brightness scale spans [0.8, 1.2]"
    assert len({round(s, 6) for s in scales}) > 300, "the scale is drawn anew every time"


def _marked_pools() -> tuple[training.Pool, training.Pool]:
    """Real images of constant value 1..5 and extras of -1..-3, targets |value| mod 3: each sample says where it
    came from."""
    real = np.stack([np.full((BANDS, 4, 4), i + 1, np.float32) for i in range(5)])
    extra = np.stack([np.full((BANDS, 4, 4), -(i + 1), np.float32) for i in range(3)])
    return (
        training.Pool(real, np.stack([np.full((4, 4), (i + 1) % 3, np.uint8) for i in range(5)])),
        training.Pool(extra, np.stack([np.full((4, 4), (i + 1) % 3, np.uint8) for i in range(3)])),
    )


def test_every_step_has_the_full_real_batch_and_the_extras_on_top():
    real, extra = _marked_pools()
    schedule = training.Schedule(max_steps=1, batch_size=4, extra_per_step=6, validate_every=1, patience=1)
    for seed in range(20):
        images, labels = training.step_batch(
            real, extra, schedule, np.random.default_rng(seed), np.random.default_rng([seed, 1])
        )
        values = images[:, 0, 0, 0]
        assert len(images) == len(labels) == 10
        assert (values[:4] > 0).all() and (values[4:] < 0).all(), "4 real samples first, then 6 extras"
        assert np.array_equal(labels[:, 0, 0], np.abs(values).astype(int) % 3), "labels travel with their image"
        alone, alone_labels = training.step_batch(
            real, None, schedule, np.random.default_rng(seed), np.random.default_rng([seed, 1])
        )
        assert np.array_equal(alone, images[:4]) and np.array_equal(alone_labels, labels[:4])
    classical = training.Pool(real.images, real.targets, classical=True)  # the control arm's extras
    images, _ = training.step_batch(real, classical, schedule, np.random.default_rng(0), np.random.default_rng(1))
    alone, _ = training.step_batch(real, None, schedule, np.random.default_rng(0), np.random.default_rng(1))
    assert len(images) == 10 and np.array_equal(images[:4], alone)
    for value in images[4:, 0, 0, 0]:  # a real sample (1..5) scaled by the brightness
        assert any(0.8 - 1e-6 <= value / k <= 1.2 + 1e-6 for k in range(1, 6)), value


def test_the_arms_of_a_seed_draw_the_same_real_samples_and_start_from_the_same_weights():
    real, extra = _marked_pools()
    validation = training.Pool(real.images[:2], real.targets[:2])
    stats = segmenter.band_stats(real.images)
    schedule = training.Schedule(max_steps=2, batch_size=4, extra_per_step=4, validate_every=2, patience=1)
    infos = [training.train(real, pool, validation, stats, 3, schedule, seed=3)[1] for pool in (None, extra)]
    assert infos[0]["real_samples"] == infos[1]["real_samples"]
    assert infos[0]["initial_weights"] == infos[1]["initial_weights"]
    other = training.train(real, extra, validation, stats, 3, schedule, seed=4)[1]
    assert other["real_samples"] != infos[0]["real_samples"]
