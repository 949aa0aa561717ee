"""Experiment runners and plots of notebook 02, against tf.GradientTape and Keras layers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from relu_course.data import load_digits_split
from relu_course.experiments.vanishing_gradients import (
    SaturationMonitor,
    gradient_norm_profiles,
    gradient_ratio,
    saturation_run,
)
from relu_course.models import build_mlp
from relu_course.plots.gradients import chain_bound_figure, gradient_norm_figure, saturation_figure
from relu_course.runtime import set_seed


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def test_profiles_match_a_hand_written_tape(digits):
    profiles = gradient_norm_profiles(
        digits, ("tanh", "relu"), depth=3, width=16, n_examples=50, seed=3
    )
    for activation, norms in profiles.items():
        set_seed(3)
        model = build_mlp(3, 16, activation)
        kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
        with tf.GradientTape() as tape:
            logits = model(digits.x_train[:50])
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(digits.y_train[:50], logits)
            )
        expected = [np.linalg.norm(g.numpy()) for g in tape.gradient(loss, kernels)]
        assert norms.shape == (4,)
        np.testing.assert_allclose(norms, expected, rtol=1e-5)


def test_sigmoid_gradients_vanish_towards_the_input(digits):
    profiles = gradient_norm_profiles(digits, ("sigmoid", "tanh"), depth=6, width=32, n_examples=64)
    assert gradient_ratio(profiles["sigmoid"]) < 0.01 < gradient_ratio(profiles["tanh"])
    assert np.all(np.diff(np.log(profiles["sigmoid"][:6])) > 0)


def test_gradient_ratio_uses_one_based_layers():
    norms = np.array([1e-3, 1e-2, 1e-1, 1.0, 5.0])
    assert gradient_ratio(norms) == pytest.approx(1e-3)  # layer 1 / layer 4 (last hidden)
    assert gradient_ratio(norms, 2, 5) == pytest.approx(2e-3)


def test_saturation_monitor_records_layer_means(digits):
    set_seed(0)
    model = build_mlp(2, 8, "sigmoid")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = SaturationMonitor(digits.x_val[:20], ["act_1", "act_2"])
    model.fit(digits.x_train[:64], digits.y_train[:64], epochs=2, verbose=0, callbacks=[monitor])
    assert [len(v) for v in monitor.means.values()] == [3, 3]
    top = keras.Model(model.inputs[0], model.get_layer("act_2").output)
    assert monitor.means["act_2"][-1] == pytest.approx(
        float(np.mean(top(digits.x_val[:20]))), rel=1e-5
    )


def test_saturation_run_shapes(digits):
    run = saturation_run(digits, "sigmoid", depth=2, width=8, epochs=2)
    assert run["layer_means"].shape == (2, 3)
    assert run["val_accuracy"].shape == run["loss"].shape == (2,)
    assert np.all((run["layer_means"] > 0) & (run["layer_means"] < 1))


def test_figures():
    profiles = {"a": np.array([1e-6, 1e-3, 1.0]), "b": np.ones(3)}
    run = {"layer_means": np.full((2, 3), 0.5), "val_accuracy": np.array([0.1, 0.2])}
    for fig in (
        gradient_norm_figure(profiles),
        chain_bound_figure(5),
        saturation_figure({"sigmoid": run, "tanh": run}),
    ):
        assert isinstance(fig, Figure)
