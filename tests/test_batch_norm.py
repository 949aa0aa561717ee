"""NumPy BN references against keras.layers.BatchNormalization, and the notebook-06 runners."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from relu_course.batch_norm import batchnorm_forward, batchnorm_inference, update_moving_average
from relu_course.data import Split, load_digits_split
from relu_course.experiments.batch_norm import (
    accuracy,
    bad_init_run,
    momentum_and_placement_run,
    train_model,
)
from relu_course.models import build_mlp
from relu_course.runtime import set_seed


def _layer(features, eps=1e-3, momentum=0.99):
    rng = np.random.default_rng(1)
    layer = keras.layers.BatchNormalization(epsilon=eps, momentum=momentum)
    layer.build((None, features))
    layer.gamma.assign(rng.uniform(0.5, 2, size=features).astype(np.float32))
    layer.beta.assign(rng.normal(size=features).astype(np.float32))
    return layer


@pytest.mark.parametrize("eps", [1e-3, 1e-1, 1e-5])
def test_forward_matches_keras_training_mode(eps):
    x = np.random.default_rng(0).normal(3, 0.05, size=(40, 6)).astype(np.float32)
    layer = _layer(6, eps)
    expected = np.asarray(layer(x, training=True))
    got = batchnorm_forward(x, np.asarray(layer.gamma), np.asarray(layer.beta), eps)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert got.dtype == np.float32


def test_moving_statistics_and_inference_match_keras():
    layer = _layer(5, momentum=0.8)
    rng = np.random.default_rng(2)
    mean, var = np.zeros(5), np.ones(5)
    for _ in range(7):
        x = rng.normal(2, 3, size=(32, 5)).astype(np.float32)
        layer(x, training=True)
        mean = update_moving_average(mean, x.mean(0), 0.8)
        var = update_moving_average(var, x.var(0), 0.8)
    np.testing.assert_allclose(mean, np.asarray(layer.moving_mean), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(var, np.asarray(layer.moving_variance), rtol=1e-5, atol=1e-5)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    got = batchnorm_inference(x, np.asarray(layer.gamma), np.asarray(layer.beta), mean, var)
    np.testing.assert_allclose(got, np.asarray(layer(x, training=False)), rtol=1e-4, atol=1e-4)


def test_references_do_not_mutate_inputs():
    x = np.random.default_rng(3).normal(size=(8, 3))
    moving = np.ones(3)
    x0, moving0 = x.copy(), moving.copy()
    batchnorm_forward(x, np.ones(3), np.zeros(3))
    update_moving_average(moving, np.zeros(3))
    assert np.array_equal(x, x0) and np.array_equal(moving, moving0)


def _tiny_split(n=128):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 64)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return Split(x, y, x[:32], y[:32])


def test_train_model_learns_and_matches_accuracy():
    set_seed(0)
    data = _tiny_split()
    model = build_mlp(1, 16, "relu", num_classes=2, name="tiny")
    history = train_model(
        model, data, epochs=5, optimizer=keras.optimizers.Adam(1e-2), batch_size=32
    )
    assert len(history["loss"]) == 5 and history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] == accuracy(model, data.x_val, data.y_val)
    assert history["val_accuracy"][-1] > 0.8


def test_train_model_is_reproducible():
    data = _tiny_split()
    runs = []
    for _ in range(2):
        set_seed(4)
        model = build_mlp(1, 8, "relu", num_classes=2, batch_norm="before", name="tiny")
        runs.append(
            train_model(
                model, data, epochs=2, optimizer=keras.optimizers.SGD(0.1), batch_size=32, seed=4
            )["loss"]
        )
    assert runs[0] == runs[1]


def test_momentum_lag_run_structure():
    digits = load_digits_split()
    small = Split(
        digits.x_train[:256], digits.y_train[:256], digits.x_val[:128], digits.y_val[:128]
    )
    results = momentum_and_placement_run(small, epochs=1, progress=False)
    assert set(results) == {
        "no BN",
        "before, momentum 0.99",
        "before, momentum 0.9",
        "after, momentum 0.9",
    }
    for run in results.values():
        assert 0 <= run["inference_accuracy"] <= 1 and 0 <= run["sparsity"] <= 1
    # without BN the two modes are the same function
    assert results["no BN"]["inference_accuracy"] == results["no BN"]["training_mode_accuracy"]


def test_bad_init_run_uses_the_small_weights_and_both_variants():
    data = load_digits_split()
    small = Split(data.x_train[:128], data.y_train[:128], data.x_val[:64], data.y_val[:64])
    runs = bad_init_run(small, depth=3, width=8, init_std=0.01, epochs=1, progress=False)
    assert list(runs) == ["without BN", "with BN"]
    for run in runs.values():
        assert len(run["history"]["loss"]) == 1 and 0.0 <= run["val_accuracy"] <= 1.0
        assert run["finite"] and 0.0 <= run["dead_fraction"] <= 1.0
    # the plain net starts from N(0, 0.01²) weights: its first loss sits at ln 10
    assert runs["without BN"]["history"]["loss"][0] == pytest.approx(np.log(10), abs=0.02)
