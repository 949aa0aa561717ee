"""Reference maths, experiment runners and plots of notebook 03, against Keras layers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from relu_course.data import gaussian_inputs, load_digits_split
from relu_course.experiments.sparsity import (
    build_relu_mlp,
    init_zero_fractions,
    sparse_matmul_speedups,
    sparsity_per_layer,
    train_relu_mlp,
)
from relu_course.plots.sparsity import (
    activation_histograms,
    layer_sparsity_figure,
    speedup_figure,
    zero_fraction_figure,
)
from relu_course.sparsity import dense_macs, skippable_macs, zero_fraction_per_example


def test_dense_macs_counts_each_zero_input_units_times():
    a = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    assert dense_macs(a, 4) == (2 * 3 * 4, 3 * 4)
    assert dense_macs(np.zeros((5, 2, 3)), 7) == (5 * 2 * 3 * 7, 5 * 2 * 3 * 7)


def test_skippable_macs_by_applying_layers_by_hand():
    rng = np.random.default_rng(1)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(4),
            keras.layers.ReLU(),
            keras.layers.Dense(3),
        ]
    )
    x = rng.normal(size=(9, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.4] = 0
    total, skippable = skippable_macs(model, x)
    h, want_total, want_skip = x, 0, 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            want_total += h.shape[0] * h.shape[1] * layer.units
            want_skip += int(np.sum(h == 0)) * layer.units
        h = np.asarray(layer(h))
    assert (total, skippable) == (want_total, want_skip)
    assert isinstance(total, int) and isinstance(skippable, int)


def test_zero_fraction_per_example():
    a = np.array([[0, 1, 0, 2], [1, 1, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(zero_fraction_per_example(a), [0.5, 0.25])
    with pytest.raises(ValueError):
        zero_fraction_per_example(np.zeros(()))


def test_half_zeros_at_init_for_symmetric_weights():
    fractions = init_zero_fractions(gaussian_inputs(200, 32), width=256)
    for f in fractions.values():
        assert f.shape == (200,)
        assert abs(f.mean() - 0.5) < 0.03


def test_l1_model_has_activity_penalties_and_sparsity_matches_layers():
    model = build_relu_mlp(2, 16, l1=1e-3, input_dim=8, num_classes=3)
    assert all(layer.activity_regularizer is not None for layer in model.layers[:-1])
    assert model.layers[-1].activity_regularizer is None
    x = gaussian_inputs(30, 8)
    h1 = np.asarray(model.layers[0](x))
    h2 = np.asarray(model.layers[1](h1))
    got = sparsity_per_layer(model, x)
    assert list(got) == ["dense_1", "dense_2"]
    assert got["dense_1"] == pytest.approx(np.mean(h1 == 0))
    assert got["dense_2"] == pytest.approx(np.mean(h2 == 0))


def test_train_relu_mlp_learns():
    model, history = train_relu_mlp(load_digits_split(), depth=1, width=32, epochs=3)
    assert history.history["val_accuracy"][-1] > 0.5


def test_sparse_and_dense_products_agree():
    result = sparse_matmul_speedups([0.5, 0.99], batch=16, n_in=32, n_out=8, number=1, repeats=1)
    assert result["speedup"].shape == (2,) and np.all(result["speedup"] > 0)
    assert np.all(result["max_error"] < 1e-4)


def test_figures():
    rng = np.random.default_rng(0)
    a = np.maximum(rng.normal(size=(20, 8)), 0)
    figures = [
        zero_fraction_figure({"he": np.full(10, 0.5)}),
        activation_histograms({"dense_1": a, "dense_2": a}),
        layer_sparsity_figure({"plain": {"dense_1": 0.5}, "l1": {"dense_1": 0.7}}),
        speedup_figure([0.5, 0.9, 0.99], [0.1, 0.5, 2.0]),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
