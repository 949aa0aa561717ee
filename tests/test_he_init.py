"""Unit tests of notebook 05's references and runners (relu_course.he_init,
relu_course.experiments.he_init, relu_course.plots.he_init)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from relu_course.data import Split
from relu_course.experiments.he_init import (
    init_seed_runs,
    kernel_ranks,
    rms_profiles,
    symmetry_runs,
    train_deep_mlp,
)
from relu_course.he_init import (
    UntruncatedHeNormal,
    excess_kurtosis,
    expected_initial_loss,
    he_std,
    keras_truncation_cutoff,
    propagate_rms,
    rms,
    rms_theory,
    tail_mass,
    xavier_std,
)
from relu_course.plots.he_init import (
    kernel_images,
    rms_by_layer,
    seed_loss_curves,
    weight_histograms,
)


def test_stds_match_keras_variance_scaling():
    for fan_in, fan_out in [(64, 64), (300, 20)]:
        he = np.asarray(
            keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=1)(
                (fan_in, fan_out)
            )
        )
        glorot = np.asarray(
            keras.initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal", seed=1)(
                (fan_in, fan_out)
            )
        )
        assert he.std() == pytest.approx(he_std(fan_in), rel=0.05)
        assert glorot.std() == pytest.approx(xavier_std(fan_in, fan_out), rel=0.05)


def test_propagate_rms_equals_a_keras_forward_pass_with_the_same_weights():
    x = np.random.default_rng(0).normal(size=(32, 12))
    depth, width, seed = 4, 20, 3
    got = propagate_rms(he_std, depth, width, x, seed=seed)
    rng = np.random.default_rng(seed)  # same draws, same order
    layers = [keras.Input((12,))]
    weights = []
    for i in range(depth):
        fan_in = 12 if i == 0 else width
        weights.append(rng.standard_normal((fan_in, width)) * he_std(fan_in))
        layers.append(keras.layers.Dense(width, activation="relu", use_bias=False, dtype="float64"))
    model = keras.Sequential(layers)
    for layer, w in zip(model.layers, weights, strict=True):
        layer.set_weights([w])
    h, expected = x, []
    for layer in model.layers:
        h = layer(h)
        expected.append(rms(np.asarray(h)))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_rms_follows_the_variance_recursion_on_average():
    x = np.random.default_rng(1).normal(size=(128, 256))
    for rule in (he_std, xavier_std, lambda n: 1.3 / np.sqrt(n)):
        logs = np.log([propagate_rms(rule, 6, 256, x, seed=s) for s in range(16)]).mean(axis=0)
        np.testing.assert_allclose(logs, np.log(rms_theory(rule, 6, 256, x)), atol=0.15)


def test_xavier_halves_the_second_moment_per_layer():
    x = np.random.default_rng(2).normal(size=(64, 256))
    theory = rms_theory(xavier_std, 30, 256, x)
    np.testing.assert_allclose(theory[1:] / theory[:-1], np.sqrt(0.5))


def test_untruncated_he_normal_law_seed_and_config():
    init = UntruncatedHeNormal(seed=4)
    w = np.asarray(init((400, 2500)))
    assert w.dtype == np.float32
    assert w.std() == pytest.approx(he_std(400), rel=0.01)
    assert tail_mass(w, 2.0) == pytest.approx(0.0455, abs=0.0015)
    assert abs(excess_kurtosis(w)) < 0.04
    assert np.array_equal(w, np.asarray(UntruncatedHeNormal(seed=4)((400, 2500))))
    clone = UntruncatedHeNormal.from_config(init.get_config())
    assert np.array_equal(np.asarray(clone((5, 5))), np.asarray(init((5, 5))))
    unseeded = UntruncatedHeNormal()
    assert not np.array_equal(np.asarray(unseeded((5, 5))), np.asarray(unseeded((5, 5))))


def test_keras_he_normal_is_truncated():
    """The Keras trap the notebook names: no weight beyond ~2.3 standard deviations."""
    w = np.asarray(keras.initializers.HeNormal(seed=0)((400, 2500)))
    assert w.std() == pytest.approx(he_std(400), rel=0.01)
    assert tail_mass(w, 2.5) == 0.0
    assert excess_kurtosis(w) < -0.5


def test_keras_he_normal_cuts_beyond_two_final_standard_deviations():
    """Keras truncates at 2 std of the normal it draws *before* rescaling: a few percent of
    the weights lie beyond 2σ of the final law, none beyond the computed cut."""
    sigma = he_std(400)
    z = np.abs(np.asarray(keras.initializers.HeNormal(seed=1)((400, 2500)))) / sigma
    cut = keras_truncation_cutoff()
    assert 2.2 < cut < 2.35
    assert z.max() <= cut * (1 + 1e-5)
    assert z.max() > cut - 0.01  # the cut is reached, not a lower one
    assert 0.02 < np.mean(z > 2.0) < 0.05


def test_expected_initial_loss_is_the_loss_of_equal_logits():
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for k in (2, 10, 37):
        got = float(loss(np.array([1]), np.zeros((1, k), np.float32)))
        assert expected_initial_loss(k) == pytest.approx(got, rel=1e-6)


def test_tail_statistics_of_known_laws():
    rng = np.random.default_rng(0)
    assert excess_kurtosis(rng.uniform(size=10**6)) == pytest.approx(-1.2, abs=0.02)
    assert tail_mass(rng.uniform(size=10**5), 2.0) == 0.0
    assert excess_kurtosis(rng.laplace(size=10**6)) == pytest.approx(3.0, abs=0.2)


def _tiny_split(n=64, d=8, classes=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.int32)
    return Split(x, y, x[:8], y[:8])


def test_train_deep_mlp():
    data = _tiny_split()
    run = train_deep_mlp(3, UntruncatedHeNormal(seed=1), data, width=8, epochs=2)
    assert len(run["loss"]) == 2 and run["final_loss"] == run["loss"][-1]


def test_rms_profiles_and_plots():
    x = np.random.default_rng(0).normal(size=(16, 32))
    profiles = rms_profiles({"He": he_std, "zeros": lambda n: 0.0}, 5, 32, x)
    assert profiles["He"].shape == (5,) and np.all(profiles["zeros"] == 0)
    assert isinstance(rms_by_layer(profiles, {"He": rms_theory(he_std, 5, 32, x)}), Figure)
    assert isinstance(
        weight_histograms({"w": np.random.default_rng(0).normal(size=1000)}, 1.0), Figure
    )


def test_init_seed_runs_pairs_seeds_and_reads_the_history():
    data = _tiny_split()
    runs = init_seed_runs(
        data, 2, ("glorot_uniform", "he_normal"), seeds=(0, 1, 2), width=8, epochs=2
    )
    assert runs.inits == ["glorot_uniform", "he_normal"] and runs.seeds == [0, 1, 2]
    for init in runs.inits:
        assert runs.loss[init].shape == (2, 3)
        assert runs.initial_loss[init].shape == runs.val_accuracy[init].shape == (3,)
        assert runs.final_loss(init).mean == pytest.approx(runs.loss[init][-1].mean())
    diff = runs.loss_difference("glorot_uniform", "he_normal")
    assert diff.n == 3
    assert diff.mean == pytest.approx(
        np.mean(runs.loss["glorot_uniform"][-1] - runs.loss["he_normal"][-1])
    )
    assert np.all(np.isfinite(runs.initial_loss["he_normal"]))


def test_kernel_ranks():
    rng = np.random.default_rng(0)
    assert kernel_ranks(np.zeros((5, 4))) == 0
    assert kernel_ranks(np.full((6, 4), 0.3)) == 1
    column = rng.normal(size=(6, 1))
    assert kernel_ranks(np.tile(column, (1, 5)) + 1e-9 * rng.normal(size=(6, 5))) == 1
    assert kernel_ranks(rng.normal(size=(6, 4))) == 4


def test_symmetry_runs_constant_units_stay_identical():
    # (the first step moves only the output layer: equal output weights send every hidden
    # unit a zero gradient; later steps reach the hidden layers)
    data = _tiny_split(n=256)
    out = symmetry_runs(
        data, ("zeros", "constant:0.05", "he_normal"), seeds=(0, 1), depth=2, width=6, epochs=3
    )
    assert np.all(out["zeros"]["ranks"] == 0) and np.all(out["zeros"]["moved"] == 0)
    assert np.all(out["constant:0.05"]["ranks"] == 1)
    assert np.all(out["constant:0.05"]["spread"] < 1e-5)
    assert np.all(out["constant:0.05"]["moved"] > 0)  # it trains, as one unit
    assert np.all(out["he_normal"]["ranks"] == 6)
    assert out["he_normal"]["example_kernel"].shape == (6, 6)


def test_train_deep_mlp_passes_callbacks():
    seen = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    train_deep_mlp(
        2, UntruncatedHeNormal(seed=1), _tiny_split(), width=4, epochs=2, callbacks=[Count()]
    )
    assert seen == [0, 1]


def test_new_figures():
    runs = init_seed_runs(_tiny_split(), 2, seeds=(0, 1), width=4, epochs=2)
    assert isinstance(seed_loss_curves({2: runs}), Figure)
    assert isinstance(kernel_images({"a": np.ones((3, 2)), "b": np.zeros((3, 2))}), Figure)
