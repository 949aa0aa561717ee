"""The training-diagnostics callback (relu_course.diagnostics) and its dashboard, against
independent references: GradientTape for the SGD step, probes for the activations."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from relu_course.diagnostics import (
    ACTIVATION_METRICS,
    WEIGHT_METRICS,
    TrainingDiagnostics,
    activation_layers,
    update_to_data_ratio,
    weight_layers,
)
from relu_course.models import build_mlp
from relu_course.plots.diagnostics import diagnostics_dashboard, update_ratio_comparison
from relu_course.probes import dead_fraction_per_layer, layer_outputs
from relu_course.runtime import set_seed


def test_update_to_data_ratio_is_the_relative_norm_of_the_change():
    rng = np.random.default_rng(0)
    for shape in [(7,), (5, 3), (2, 3, 4)]:
        before = rng.normal(loc=0.5, size=shape)
        after = before + rng.normal(scale=1e-3, size=shape)
        expected = math.sqrt(np.sum((after - before) ** 2)) / math.sqrt(np.sum(before**2))
        assert update_to_data_ratio(before, after) == pytest.approx(expected, rel=1e-12)
        # scale invariant, zero for no change, unchanged inputs, a float
        assert update_to_data_ratio(3 * before, 3 * after) == pytest.approx(expected, rel=1e-12)
        assert update_to_data_ratio(before, before.copy()) == 0.0
        kept = (before.copy(), after.copy())
        value = update_to_data_ratio(before, after)
        assert type(value) is float
        np.testing.assert_array_equal(before, kept[0])
        np.testing.assert_array_equal(after, kept[1])
    b32 = rng.normal(size=(64, 64)).astype(np.float32)
    a32 = b32 + np.float32(1e-4) * rng.normal(size=(64, 64)).astype(np.float32)
    assert update_to_data_ratio(b32, a32) == pytest.approx(
        update_to_data_ratio(b32.astype(np.float64), a32.astype(np.float64)), rel=1e-12
    )


def _model(seed=0, batch_norm=None):
    set_seed(seed)
    model = build_mlp(
        3, 12, "relu", input_dim=5, num_classes=3, batch_norm=batch_norm, name="diag_test"
    )
    return model


def _data(n=48, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(np.float32), rng.integers(0, 3, n).astype(np.int32)


def test_layer_selection():
    model = _model()
    assert [layer.name for layer in activation_layers(model)] == ["act_1", "act_2", "act_3"]
    assert [layer.name for layer in weight_layers(model)] == [
        "dense_1",
        "dense_2",
        "dense_3",
        "logits",
    ]
    inputs = keras.Input((4,))
    h = keras.layers.Dense(6, activation="relu", name="relu_dense")(inputs)
    h = keras.layers.Dense(5, activation="tanh", name="tanh_dense")(h)
    out = keras.layers.Dense(2, activation="softmax", name="probs")(h)
    functional = keras.Model(inputs, out)
    assert [layer.name for layer in activation_layers(functional)] == ["relu_dense", "tanh_dense"]


def test_sgd_update_ratio_matches_the_gradient_step_and_activations_match_the_probe():
    """With plain SGD on the full batch, ΔW = −lr·∇W exactly: the recorded ratio must equal
    lr·‖∇W‖/‖W‖ computed before the step with GradientTape."""
    x, y = _data()
    model, lr = _model(), 0.05
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=loss_fn)
    kernels = [layer.kernel for layer in weight_layers(model)]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, kernels)
    expected = {
        layer.name: lr * float(tf.norm(g)) / float(tf.norm(k))
        for layer, g, k in zip(weight_layers(model), grads, kernels, strict=True)
    }
    before_acts = layer_outputs(model, x, activation_layers(model))
    before_dead = dead_fraction_per_layer(model, x)

    diagnostics = TrainingDiagnostics(x, y, snapshot_steps=(0, 1))
    model.fit(x, y, epochs=2, batch_size=len(x), shuffle=False, verbose=0, callbacks=[diagnostics])
    assert diagnostics.steps == [0, 1, 2]
    assert diagnostics.epoch_ends == [1, 2]
    assert set(diagnostics.history) == set(ACTIVATION_METRICS + WEIGHT_METRICS)
    for name, want in expected.items():
        ratios = diagnostics.history["update_ratio"][name]
        assert math.isnan(ratios[0]) and len(ratios) == 3
        assert ratios[1] == pytest.approx(want, rel=1e-4)
    for name, a in before_acts.items():
        assert diagnostics.history["activation_mean"][name][0] == pytest.approx(a.mean(), rel=1e-5)
        assert diagnostics.history["activation_std"][name][0] == pytest.approx(a.std(), rel=1e-5)
        assert diagnostics.history["zero_fraction"][name][0] == pytest.approx(np.mean(a == 0))
        assert diagnostics.history["dead_fraction"][name][0] == pytest.approx(before_dead[name])
        np.testing.assert_allclose(diagnostics.snapshots[0][name], a, rtol=1e-6)
    assert sorted(diagnostics.snapshots) == [0, 1]
    for name, g in zip(expected, grads, strict=True):
        assert diagnostics.history["gradient_std"][name][0] == pytest.approx(
            float(tf.math.reduce_std(g)), rel=1e-4
        )
    series = diagnostics.series("update_ratio")
    assert all(isinstance(v, np.ndarray) and v.shape == (3,) for v in series.values())
    with pytest.raises(KeyError, match="unknown metric"):
        diagnostics.series("loss")


def test_every_and_a_custom_ratio_function_and_no_labels():
    x, y = _data(n=64)
    model = _model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    calls = []

    def ratio(before, after):
        calls.append(before.shape)
        return 42.0

    diagnostics = TrainingDiagnostics(x, every=3, ratio=ratio)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[diagnostics])  # 8 steps
    assert diagnostics.steps == [0, 3, 6]
    assert diagnostics.epoch_ends == [4, 8]
    assert diagnostics.history["gradient_std"] == {}
    assert all(v[1:] == [42.0, 42.0] for v in diagnostics.history["update_ratio"].values())
    assert len(calls) == 2 * len(weight_layers(model))
    assert diagnostics.snapshots == {}
    with pytest.raises(ValueError):
        TrainingDiagnostics(x, every=0)


@pytest.mark.parametrize("batch_norm", [None, "before"])
def test_the_callback_does_not_change_training(batch_norm):
    """Same seed with and without the callback: identical weights (BN statistics included)."""
    x, y = _data(n=64)
    weights = []
    for use in (False, True):
        model = _model(seed=3, batch_norm=batch_norm)
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
        callbacks = [TrainingDiagnostics(x, y)] if use else []
        set_seed(4)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=callbacks)
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dashboard_and_comparison_return_figures():
    x, y = _data()
    runs = {}
    for label, labels in (("with labels", y), ("without", None)):
        model = _model()
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
        diagnostics = TrainingDiagnostics(x, labels, snapshot_steps=(0, 2, 5))
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[diagnostics])
        runs[label] = diagnostics
        assert isinstance(diagnostics_dashboard(diagnostics, title=label), Figure)
    assert isinstance(update_ratio_comparison(runs), Figure)
