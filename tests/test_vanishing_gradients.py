"""Experiment runners, probes and plots of notebook 02, against tf.GradientTape, Keras
layers and the ensemble's own initial weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from relu_course.data import load_digits_split
from relu_course.experiments.vanishing_gradients import (
    PROPER_INIT,
    draw_kernel,
    epochs_to_target,
    layer_ratios,
    norm_profiles,
    saturation_runs,
    steps_to_target,
)
from relu_course.models import build_mlp
from relu_course.plots.gradients import (
    chain_bound_figure,
    norm_profile_figure,
    saturation_figure,
    steps_to_target_figure,
)
from relu_course.probes import error_norms, gradient_and_error_norms, gradient_norms
from relu_course.runtime import set_seed


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


# ---------------------------------------------------------------- probes: error norms
def _errors_by_wrapping_activations(model, x, y):
    """An independent reference: let each Dense layer's own activation record its input z
    (the pre-activation Keras computed), then differentiate the loss w.r.t. those tensors."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    originals = [layer.activation for layer in dense]
    recorded = []

    def recorder(activation):
        def record(z):
            recorded.append(z)
            return activation(z)

        return record

    try:
        for layer in dense:
            layer.activation = recorder(layer.activation)
        with tf.GradientTape() as tape:
            logits = model(tf.constant(x), training=False)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        return np.array([np.linalg.norm(g) for g in tape.gradient(loss, recorded)])
    finally:
        for layer, activation in zip(dense, originals, strict=True):
            layer.activation = activation


def _models():
    set_seed(1)
    yield build_mlp(3, 12, "tanh", input_dim=5, num_classes=4)
    yield keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(9, activation="relu", bias_initializer="random_normal"),
            keras.layers.Dropout(0.5),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(7, activation="sigmoid"),
            keras.layers.Dense(4, use_bias=False),
        ]
    )
    inputs = keras.Input((5,))
    h = keras.layers.Dense(8, activation="elu")(inputs)
    yield keras.Model(inputs, keras.layers.Dense(4)(h))


@pytest.mark.parametrize("index", range(3))
def test_error_norms_match_an_independent_reference(index):
    model = list(_models())[index]
    rng = np.random.default_rng(index)
    x = rng.normal(size=(13, 5)).astype(np.float32)
    y = rng.integers(0, 4, size=13).astype(np.int32)
    weights, errors = gradient_and_error_norms(model, x, y)
    np.testing.assert_allclose(errors, _errors_by_wrapping_activations(model, x, y), rtol=1e-5)
    np.testing.assert_allclose(weights, gradient_norms(model, x, y), rtol=1e-5)
    np.testing.assert_allclose(error_norms(model, x, y), errors)


def test_error_is_the_factor_of_the_kernel_gradient(digits):
    """∂L/∂W_l = a_{l-1}ᵀ ∂L/∂z_l: the error found by the probe rebuilds Keras's gradient."""
    set_seed(2)
    model = build_mlp(2, 16, "relu")
    x, y = digits.x_train[:40], digits.y_train[:40]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape(persistent=True) as tape:
        z0 = dense[0](x)
        a0 = model.get_layer("act_1")(z0)
        z1 = dense[1](a0)
        logits = dense[2](model.get_layer("act_2")(z1))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    probe = error_norms(model, x, y)
    for i, (a_prev, z) in enumerate(((x, z0), (a0.numpy(), z1))):
        delta = tape.gradient(loss, z).numpy()
        kernel_grad = tape.gradient(loss, dense[i].kernel).numpy()
        np.testing.assert_allclose(a_prev.T @ delta, kernel_grad, rtol=1e-4, atol=1e-7)
        assert np.linalg.norm(delta) == pytest.approx(probe[i], rel=1e-5)


def test_error_norms_refuse_a_branching_model():
    inputs = keras.Input((4,))
    a = keras.layers.Dense(3)(inputs)
    b = keras.layers.Dense(3)(inputs)
    model = keras.Model(inputs, keras.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="chain"):
        error_norms(model, np.ones((2, 4), np.float32), np.zeros(2, np.int32))


# ---------------------------------------------------------------- norm profiles at init
def test_draw_kernel_scales():
    rng = np.random.default_rng(0)
    glorot = draw_kernel("glorot_uniform", 300, 100, rng)
    assert glorot.dtype == np.float32 and np.abs(glorot).max() <= np.sqrt(6 / 400)
    assert draw_kernel("he_normal", 400, 300, rng).std() == pytest.approx(
        np.sqrt(2 / 400), rel=0.02
    )
    assert draw_kernel("normal:0.01", 400, 300, rng).std() == pytest.approx(0.01, rel=0.02)
    with pytest.raises(ValueError):
        draw_kernel("he_uniform", 3, 3, rng)


def test_norm_profiles_use_the_ensembles_initial_weights(digits):
    """Same (init, seed) → the weights relu_course.ensemble starts from, so the at-init
    measurement and the training runs of the notebook share their draws."""
    from relu_course.ensemble import MLPEnsemble, NetSpec

    profiles = norm_profiles(digits, ("relu",), ("he_normal",), depth=2, width=8, seeds=[4])
    ensemble = MLPEnsemble([NetSpec("relu", seed=4, init="he_normal")], depth=2, width=8)
    model = build_mlp(2, 8, "relu")
    model.set_weights(ensemble.network_weights(0))
    x, y = digits.x_train[:512], digits.y_train[:512]
    weight, error = gradient_and_error_norms(model, x, y)
    np.testing.assert_allclose(profiles["weight"][("relu", "he_normal")][0], weight, rtol=1e-5)
    np.testing.assert_allclose(profiles["error"][("relu", "he_normal")][0], error, rtol=1e-5)


def test_norm_profiles_separate_inits_and_activations(digits):
    """A small version of the flagship measurement: it *can* tell a vanishing error from a
    healthy one (the property the old weight-gradient claim lacked)."""
    profiles = norm_profiles(
        digits,
        ("sigmoid", "relu"),
        ("he_normal", "normal:0.01"),
        depth=6,
        width=64,
        n_examples=128,
        seeds=2,
    )
    error, weight = profiles["error"], profiles["weight"]
    assert error[("relu", "he_normal")].shape == (2, 7)
    he = layer_ratios(error[("relu", "he_normal")], 1, 6)
    small = layer_ratios(error[("relu", "normal:0.01")], 1, 6)
    assert np.all((he > 0.3) & (he < 3)) and np.all(small < 1e-3)
    # flat-but-dead: the weight-gradient ratio with the tiny init stays of order 1
    flat = layer_ratios(weight[("relu", "normal:0.01")], 1, 6)
    assert np.all((flat > 0.2) & (flat < 5))
    assert np.all(layer_ratios(weight[("sigmoid", "he_normal")], 1, 6) < 0.05)
    # same (init, seed) → same weights whatever the activation: a paired design
    assert not np.allclose(weight[("sigmoid", "he_normal")], weight[("relu", "he_normal")])


def test_layer_ratios_use_one_based_layers():
    norms = np.array([[1e-3, 1e-2, 1e-1, 1.0, 5.0], [2.0, 1.0, 1.0, 4.0, 1.0]])
    np.testing.assert_allclose(layer_ratios(norms), [1e-3, 0.5])  # layer 1 / layer 4
    np.testing.assert_allclose(layer_ratios(norms, 2, 5), [2e-3, 1.0])


# ---------------------------------------------------------------- steps to target
def test_epochs_to_target_censors_at_the_budget():
    accuracy = np.array([[0.2, 0.5, 0.1], [0.95, 0.6, 0.1], [0.7, 0.91, 0.1]])
    epochs, reached = epochs_to_target(accuracy, 0.9)
    assert epochs.tolist() == [2, 3, 4] and reached.tolist() == [True, True, False]


def test_steps_to_target_runs_a_paired_grid(digits):
    result = steps_to_target(
        digits, ("tanh", "relu"), (1, 2), seeds=2, width=16, epochs={1: 3, 2: 2}, target=0.5
    )
    assert result["depths"] == [1, 2] and result["budget"] == {1: 3, 2: 2}
    for activation in ("tanh", "relu"):
        assert result["epochs"][activation].shape == (2, 2)
        assert [a.shape for a in result["val_accuracy"][activation]] == [(3, 2), (2, 2)]
        for i, budget in enumerate((3, 2)):
            reached = result["reached"][activation][i]
            epochs = result["epochs"][activation][i]
            accuracy = result["val_accuracy"][activation][i]
            assert np.all(epochs[~reached] == budget + 1)
            assert np.all((epochs[reached] >= 1) & (epochs[reached] <= budget))
            assert np.array_equal(reached, (accuracy >= 0.5).any(axis=0))
    assert result["inits"] == {"tanh": PROPER_INIT["tanh"], "relu": PROPER_INIT["relu"]}


# ---------------------------------------------------------------- saturation
def test_saturation_runs_start_from_the_standard_init(digits):
    runs = saturation_runs(
        digits, ("sigmoid", "tanh"), depth=2, width=8, epochs=2, batch_size=64, seeds=2
    )
    for run in runs.values():
        assert run["layer_means_init"].shape == run["layer_means"].shape == (2, 2)
        assert run["val_accuracy"].shape == (2, 2)
    # same seed, same weights: recompute the sigmoid's layer-1 mean at init by hand
    rng = np.random.default_rng(0)
    kernel = rng.uniform(-1 / 8, 1 / 8, size=(64, 8))  # n = 64 inputs
    expected = np.mean(1 / (1 + np.exp(-(digits.x_val[:300] @ kernel))))
    assert runs["sigmoid"]["layer_means_init"][0, 0] == pytest.approx(expected, rel=1e-5)
    expected_tanh = np.mean(np.tanh(digits.x_val[:300] @ kernel))
    assert runs["tanh"]["layer_means_init"][0, 0] == pytest.approx(expected_tanh, abs=1e-6)


# ---------------------------------------------------------------- figures
def test_figures():
    run = {
        "layer_means_init": np.full((3, 2), 0.5),
        "layer_means": np.full((3, 2), 0.1),
        "val_accuracy": np.full((4, 3), 0.2),
    }
    pair = {
        kind: {
            ("relu", "he_normal"): np.ones((2, 4)),
            ("tanh", "normal:0.01"): np.full((2, 4), 1e-3),
        }
        for kind in ("weight", "error")
    }
    steps = {
        "depths": [2, 5],
        "target": 0.9,
        "budget": {2: 10, 5: 10},
        "epochs": {"relu": np.array([[2, 3], [4, 11]])},
        "reached": {"relu": np.array([[True, True], [True, False]])},
    }
    for fig in (
        chain_bound_figure(5),
        saturation_figure({"sigmoid": run, "tanh": run}),
        norm_profile_figure(pair, {"he_normal": "He"}),
        steps_to_target_figure(steps),
    ):
        assert isinstance(fig, Figure)
    assert len(norm_profile_figure(pair).axes) == 2
