"""Reference maths, experiment runners and plots of notebook 03, against Keras layers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from relu_course.data import gaussian_inputs, load_digits_split
from relu_course.experiments.sparsity import (
    batch1_gather_timing,
    break_even_sparsity,
    build_relu_mlp,
    compare_l1_over_seeds,
    init_zero_fractions,
    sparse_matmul_speedups,
)
from relu_course.plots.sparsity import (
    activation_histograms,
    batch1_figure,
    layer_sparsity_figure,
    paired_seeds_figure,
    speedup_figure,
    zero_fraction_figure,
)
from relu_course.probes import relu_outputs, zero_fraction
from relu_course.sparsity import (
    dense_macs,
    gather_matvec,
    skippable_macs,
    weight_bytes_fraction,
)


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
    got = {name: zero_fraction(a) for name, a in relu_outputs(model, x).items()}
    assert list(got) == ["dense_1", "dense_2"]
    assert got["dense_1"] == pytest.approx(np.mean(h1 == 0))
    assert got["dense_2"] == pytest.approx(np.mean(h2 == 0))


def test_sparse_and_dense_products_agree():
    result = sparse_matmul_speedups([0.5, 0.99], batch=16, n_in=32, n_out=8, number=1, repeats=3)
    assert result["speedup"].shape == (2,) and np.all(result["speedup"] > 0)
    assert np.all(result["max_error"] < 1e-4)
    assert result["dense_seconds"].shape == result["sparse_seconds"].shape == (2, 3)
    assert result["repeats"] == 3
    ratios = result["dense_seconds"] / result["sparse_seconds"]
    np.testing.assert_allclose(result["speedup"], np.exp(np.log(ratios).mean(axis=1)))
    assert np.all(result["ci_low"] <= result["speedup"])
    assert np.all(result["speedup"] <= result["ci_high"])


def test_break_even_is_the_start_of_the_last_winning_run():
    levels = np.array([0.5, 0.9, 0.95, 0.99])
    assert break_even_sparsity({"sparsity": levels, "speedup": [0.1, 1.2, 1.5, 3]}) == 0.9
    # a lucky win followed by a loss does not count as breaking even
    assert break_even_sparsity({"sparsity": levels, "speedup": [0.1, 1.2, 0.8, 3]}) == 0.99
    assert np.isnan(break_even_sparsity({"sparsity": levels, "speedup": [0.1, 0.2, 0.5, 0.9]}))


def test_gather_matvec_equals_the_dense_product_and_skips_zero_rows():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(50, 7)).astype(np.float32)
    a = np.maximum(rng.normal(size=50), 0).astype(np.float32)
    got = gather_matvec(a, w)
    assert got.shape == (7,) and got.dtype == np.float32
    np.testing.assert_allclose(got, a @ w, rtol=1e-5, atol=1e-5)
    # rows of zero inputs are never read: poisoning them changes nothing
    poisoned = w.copy()
    poisoned[a == 0] = np.nan
    np.testing.assert_allclose(gather_matvec(a, poisoned), a @ w, rtol=1e-5, atol=1e-5)
    assert np.all(gather_matvec(np.zeros(50, np.float32), w) == 0)
    with pytest.raises(ValueError):
        gather_matvec(a[:10], w)


def test_weight_bytes_fraction_counts_nonzero_rows_per_example():
    x = np.array([[1.0, 0.0], [0.0, 0.0]])
    h = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    got = weight_bytes_fraction([x, h], [3, 4])
    total = 2 * 3 + 3 * 4
    np.testing.assert_allclose(got, [(1 * 3 + 2 * 4) / total, (0 + 1 * 4) / total])
    # for one example it is 1 - skippable/total of skippable_macs
    model = build_relu_mlp(2, 6, input_dim=5, num_classes=3)
    xs = gaussian_inputs(4, 5)
    xs[0, :2] = 0
    for row in xs:
        total, skippable = skippable_macs(model, row[None])
        inputs = [row[None]]
        h = row[None]
        for layer in model.layers[:-1]:
            h = np.asarray(layer(h))
            inputs.append(h)
        got = weight_bytes_fraction(inputs, [6, 6, 3])
        assert got[0] == pytest.approx(1 - skippable / total)
    with pytest.raises(ValueError):
        weight_bytes_fraction([x, h], [3])


def test_batch1_timing_pairs_dense_and_gather():
    result = batch1_gather_timing(0.7, fan_in=64, units=32, examples=3, repeats=4)
    assert result.dense_seconds.shape == result.gather_seconds.shape == (4,)
    assert result.repeats == 4 and result.max_error < 1e-5
    assert 0.2 < result.bytes_fraction < 0.4  # about 30% of the rows are needed
    s = result.speedup
    assert s.n == 4 and s.low <= s.mean <= s.high
    assert s.mean == pytest.approx(
        np.exp(np.mean(np.log(result.dense_seconds / result.gather_seconds)))
    )


def test_l1_comparison_is_paired_and_consistent():
    data = load_digits_split()
    result = compare_l1_over_seeds(data, seeds=(0, 1), l1=1e-2, depth=2, width=16, epochs=2)
    assert result.seeds == [0, 1]
    for variant in ("plain", "l1"):
        assert result.accuracy[variant].shape == result.sparsity[variant].shape == (2,)
        assert result.layer_sparsity[variant].shape == (2, 2)
        assert np.all((result.bytes_fraction[variant] > 0) & (result.bytes_fraction[variant] < 1))
    # paired: the same seed starts from the same weights in both variants
    first = [s for s in result.ensemble.specs]
    assert [s.seed for s in first[:2]] == [s.seed for s in first[2:]]
    gain = result.sparsity_gain()
    assert gain.mean == pytest.approx(np.mean(result.sparsity["l1"] - result.sparsity["plain"]))
    cost = result.accuracy_cost()
    assert cost.mean == pytest.approx(np.mean(result.accuracy["plain"] - result.accuracy["l1"]))
    # the rebuilt Keras model computes what the ensemble computed
    model = result.keras_model("l1", 1)
    acts = {name: zero_fraction(a) for name, a in relu_outputs(model, data.x_val).items()}
    np.testing.assert_allclose(list(acts.values()), result.layer_sparsity["l1"][1], atol=1e-3)
    logits = np.asarray(model(data.x_val[:5]))
    np.testing.assert_allclose(
        logits, np.asarray(result.ensemble.forward(data.x_val[:5]))[3], rtol=1e-4, atol=1e-4
    )


def test_figures():
    rng = np.random.default_rng(0)
    a = np.maximum(rng.normal(size=(20, 8)), 0)
    figures = [
        zero_fraction_figure({"he": np.full(10, 0.5)}),
        activation_histograms({"dense_1": a, "dense_2": a}),
        layer_sparsity_figure({"plain": {"dense_1": 0.5}, "l1": {"dense_1": 0.7}}),
        speedup_figure([0.5, 0.9, 0.99], [0.1, 0.5, 2.0]),
        speedup_figure([0.5, 0.99], [0.1, 2.0], [0.05, 1.0], [0.2, 3.0]),
        paired_seeds_figure({"zeros": {"plain": [0.4, 0.5], "l1": [0.6, 0.7]}}),
        batch1_figure(
            {"plain": batch1_gather_timing(0.5, fan_in=16, units=8, examples=2, repeats=2)}
        ),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
