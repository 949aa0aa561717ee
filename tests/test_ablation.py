"""The vectorised ensemble against separately built Keras models, and the capstone statistics."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from relu_course.capstone import (
    compare_to_baseline,
    differs_beyond_noise,
    summarize_trials,
    welch_p_value,
)
from relu_course.data import Split
from relu_course.experiments.ablation import (
    ABLATION_ACTIVATIONS,
    MLPEnsemble,
    NetSpec,
    ablation_records,
    activation_cost,
    hidden_statistics,
    train_ensemble,
)
from relu_course.models import build_mlp


def _keras_twin(ensemble, n, spec):
    model = build_mlp(ensemble.depth, ensemble.width, spec, input_dim=8, num_classes=3, name="twin")
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    weights = ensemble.network_weights(n)
    for i, layer in enumerate(dense):
        layer.set_weights(weights[2 * i : 2 * i + 2])
    return model


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (np.argmax(x[:, :3], axis=1)).astype(np.int32)
    return Split(x, y, x[:24], y[:24])


@pytest.mark.parametrize("spec", list(ABLATION_ACTIVATIONS.values()))
def test_forward_matches_keras(spec):
    specs = [NetSpec("relu", 0), NetSpec(spec, 1), NetSpec(spec, 2)]
    ensemble = MLPEnsemble(specs, depth=2, width=16, input_dim=8, num_classes=3)
    x = np.random.default_rng(5).normal(size=(10, 8)).astype(np.float32)
    logits = np.asarray(ensemble.forward(x))
    for n in (1, 2):
        np.testing.assert_allclose(
            logits[n], np.asarray(_keras_twin(ensemble, n, spec)(x)), rtol=1e-5, atol=1e-5
        )


def test_same_seed_same_initial_weights():
    ensemble = MLPEnsemble(
        [NetSpec("relu", 3), NetSpec("tanh", 3), NetSpec("relu", 4)], input_dim=8, num_classes=3
    )
    w = [ensemble.network_weights(n)[0] for n in range(3)]
    assert np.array_equal(w[0], w[1]) and not np.array_equal(w[0], w[2])


def test_training_equals_separate_keras_adam():
    """One joint Adam step on the summed loss = one Adam step per network alone."""
    specs = [NetSpec("relu", 0), NetSpec("prelu", 1), NetSpec("elu", 2)]
    ensemble = MLPEnsemble(specs, depth=2, width=16, input_dim=8, num_classes=3)
    twins = [_keras_twin(ensemble, n, s.activation) for n, s in enumerate(specs)]
    data = _data()
    x, y = tf.constant(data.x_train[:32]), tf.constant(data.y_train[:32])
    optimizer = keras.optimizers.Adam(1e-2)
    variables = ensemble.trainable_variables
    for _ in range(3):
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(ensemble.losses(ensemble.forward(x, training=True), y))
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for n, twin in enumerate(twins):
        opt = keras.optimizers.Adam(1e-2)
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, twin(x, training=True))
            opt.apply_gradients(
                zip(
                    tape.gradient(loss, twin.trainable_variables),
                    twin.trainable_variables,
                    strict=True,
                )
            )
        np.testing.assert_allclose(
            np.asarray(ensemble.forward(x))[n], np.asarray(twin(x)), rtol=1e-4, atol=1e-4
        )


def test_l2_penalty_matches_keras_regularizer():
    ensemble = MLPEnsemble(
        [NetSpec("relu", 0, l2=1e-3), NetSpec("relu", 0)], input_dim=8, num_classes=3
    )
    reg = keras.regularizers.L2(1e-3)
    expected = sum(float(reg(tf.constant(k))) for k in ensemble.network_weights(0)[::2])
    np.testing.assert_allclose(np.asarray(ensemble.penalty()), [expected, 0.0], rtol=1e-5)


def test_train_ensemble_and_hidden_statistics():
    data = _data()
    ensemble = MLPEnsemble(
        [NetSpec("relu", 0), NetSpec("sigmoid", 0, dropout=0.2)], input_dim=8, num_classes=3
    )
    history = train_ensemble(ensemble, data, epochs=4, batch_size=32, learning_rate=3e-2)
    assert history["loss"].shape == (4, 2) and np.all(history["loss"][-1] < history["loss"][0])
    zeros, dead = hidden_statistics(ensemble, data.x_val)
    assert 0.2 < zeros[0] < 0.8 and zeros[1] == 0
    assert 0 <= dead[0] <= 1


def test_ablation_records_fields():
    records, history = ablation_records(
        _data(), {"relu": "relu", "tanh": "tanh"}, seeds=(0, 1), width=8, epochs=1
    )
    assert len(records) == 4 and history["val_accuracy"].shape == (1, 4)
    assert set(records[0]) == {
        "activation",
        "seed",
        "val_accuracy",
        "train_accuracy",
        "val_loss",
        "sparsity",
        "dead_fraction",
        "activation_us",
    }
    assert activation_cost("relu", shape=(64, 8), repeat=1) > 0


def test_summarize_trials_reference():
    records = [
        {"activation": a, "seed": s, "val_accuracy": v, "note": "x"}
        for a, s, v in [("a", 0, 0.5), ("a", 1, 0.7), ("b", 0, 0.9), ("b", 1, 0.8)]
    ]
    table = summarize_trials(records)
    assert list(table.index) == ["b", "a"]
    assert list(table.columns) == ["val_accuracy_mean", "val_accuracy_std"]
    np.testing.assert_allclose(table.loc["a", "val_accuracy_std"], np.std([0.5, 0.7], ddof=1))


def test_welch_against_scipy_and_constant_samples():
    from scipy import stats

    a, b = [0.9, 0.92, 0.91], [0.95, 0.97, 0.96, 0.94]
    assert welch_p_value(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert welch_p_value([1, 1], [1, 1]) == 1.0 and welch_p_value([1, 1], [2, 2]) == 0.0
    assert differs_beyond_noise(a, b) and not differs_beyond_noise(a, a)


def test_false_positive_rate_near_alpha():
    rng = np.random.default_rng(0)
    hits = sum(differs_beyond_noise(rng.normal(size=5), rng.normal(size=5)) for _ in range(2000))
    assert 0.03 < hits / 2000 < 0.07


def test_compare_to_baseline():
    records = [
        {"activation": a, "seed": s, "val_accuracy": v}
        for a, s, v in [
            ("relu", 0, 0.9),
            ("relu", 1, 0.91),
            ("sig", 0, 0.5),
            ("sig", 1, 0.52),
            ("same", 0, 0.905),
            ("same", 1, 0.9),
        ]
    ]
    table = compare_to_baseline(records)
    assert isinstance(table, pd.DataFrame) and set(table.index) == {"sig", "same"}
    assert bool(table.loc["sig", "differs beyond noise"])
    assert not bool(table.loc["same", "differs beyond noise"])
