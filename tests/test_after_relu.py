"""Notebook 08's references (GELU, SiLU, SwiGLU) against TensorFlow/Keras, and its runners:
the SwiGLU ensemble against a Keras SwiGLU layer trained alone, the ablation's pairing and
parameter matching, lazy neurons and ReLU-fication."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.after_relu import (
    GELU_APPROXIMATION_GAP,
    SwiGLUReference,
    gelu_grad_np,
    gelu_np,
    mlp_parameter_count,
    silu_grad_np,
    silu_np,
    swiglu_hidden_units,
    swiglu_np,
    swiglu_parameter_count,
)
from relu_course.data import Split, load_digits_split
from relu_course.ensemble import MLPEnsemble, NetSpec, train_ensemble
from relu_course.experiments.after_relu import (
    SwiGLUEnsemble,
    activation_zero_fractions,
    lazy_neuron_run,
    near_zero_fraction,
    network_sparsity,
    relufication,
    swiglu_ablation,
)


def _gradient(fn, x):
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = fn(t)
    return tape.gradient(y, t).numpy()


# ------------------------------------------------------------------ references
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_reference_matches_tensorflow(approximate):
    x = np.linspace(-12, 12, 2001)
    np.testing.assert_allclose(
        gelu_np(x, approximate), tf.nn.gelu(x, approximate=approximate).numpy(), atol=1e-8
    )
    np.testing.assert_allclose(
        gelu_grad_np(x, approximate),
        _gradient(lambda t: tf.nn.gelu(t, approximate=approximate), x),
        atol=1e-7,
    )
    assert gelu_np(x.astype(np.float32), approximate).dtype == np.float32


def test_gelu_forms_differ_by_the_stated_gap():
    x = np.linspace(-10, 10, 400_001)
    gap = np.abs(gelu_np(x) - gelu_np(x, approximate=True))
    assert gap.max() == pytest.approx(GELU_APPROXIMATION_GAP, rel=1e-4)
    assert 4.6e-4 < GELU_APPROXIMATION_GAP < 4.8e-4
    assert abs(abs(x[np.argmax(gap)]) - 2.7) < 0.1


def test_gelu_far_tail_is_accurate_in_float64():
    """erfc keeps x·Φ(x) accurate where 1 + erf(x/√2) would cancel to 0."""
    x = np.array([-10.0, -20.0])
    from scipy import stats

    np.testing.assert_allclose(gelu_np(x), x * stats.norm.cdf(x), rtol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 0.0, 2.5, -0.7, 30.0])
def test_silu_reference_matches_tensorflow(beta):
    x = np.linspace(-20, 20, 801)
    # tf.nn.silu rounds beta to float32, even for float64 inputs
    np.testing.assert_allclose(
        silu_np(x, np.float32(beta)), tf.nn.silu(x, beta=beta).numpy(), atol=1e-12
    )
    np.testing.assert_allclose(
        silu_grad_np(x, np.float32(beta)),
        _gradient(lambda t: tf.nn.silu(t, beta=beta), x),
        atol=1e-9,
    )


def test_silu_limits():
    x = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(silu_np(x, 0.0), x / 2)
    np.testing.assert_allclose(silu_np(x, 200.0), np.maximum(x, 0), atol=1e-3)


def test_swiglu_reference_layer_matches_numpy_and_counts_parameters():
    rng = np.random.default_rng(0)
    layer = SwiGLUReference(7, 3)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    out = layer(x).numpy()
    assert [tuple(w.shape) for w in layer.weights] == [(4, 7), (4, 7), (7, 3)]
    np.testing.assert_allclose(out, swiglu_np(x, *[w.numpy() for w in layer.weights]), atol=1e-5)
    model = keras.Sequential([keras.Input((64,)), SwiGLUReference(35, 10)])
    assert model.count_params() == swiglu_parameter_count(64, 35, 10) == 35 * 138


def test_parameter_matching():
    mlp = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    assert mlp_parameter_count(64, 64, 10) == mlp.count_params()
    assert mlp_parameter_count(64, 32, 10, depth=2) == 64 * 32 + 32 + 32 * 32 + 32 + 330
    for params, d, k in ((4810, 64, 10), (10_000, 20, 5), (300, 8, 3)):
        h = swiglu_hidden_units(params, d, k)
        best = min(range(1, params), key=lambda u: abs(swiglu_parameter_count(d, u, k) - params))
        assert abs(swiglu_parameter_count(d, h, k) - params) == abs(
            swiglu_parameter_count(d, best, k) - params
        )


# ------------------------------------------------------------------ zeros
def test_near_zero_fraction():
    a = np.array([[0.0, 0.01, -0.04, 0.05], [1.0, -2.0, 0.0, 0.3]])
    assert near_zero_fraction(a) == pytest.approx(4 / 8)
    np.testing.assert_allclose(near_zero_fraction(a, axis=1), [0.75, 0.25])
    assert near_zero_fraction(a, eps=1e-9) == pytest.approx(2 / 8)


def test_activation_zero_fractions_on_gaussian_inputs():
    z = np.random.default_rng(1).standard_normal(200_000)
    fractions = activation_zero_fractions(z)
    assert abs(fractions["relu"][0] - 0.5) < 0.01
    for smooth in ("gelu", "silu", "elu", "softplus", "tanh", "leaky_relu_0.01"):
        assert fractions[smooth][0] == 0.0, smooth
    # near zeros: ReLU's are its exact zeros plus the small positives
    assert fractions["relu"][1] > fractions["relu"][0]
    assert fractions["gelu"][1] > fractions["silu"][1] > fractions["softplus"][1]
    # a broken metric would make a healthy and a degenerate layer look alike
    dead = activation_zero_fractions(-np.abs(z) - 1.0, {"relu": "relu"})
    assert dead["relu"] == (1.0, 1.0)


# ------------------------------------------------------------------ SwiGLU ensemble
def _small_split(n_train=192, seed=0) -> Split:
    data = load_digits_split(val_fraction=0.2, test_fraction=0.2)
    return Split(
        data.x_train[:n_train],
        data.y_train[:n_train],
        data.x_val[:120],
        data.y_val[:120],
        data.x_test[:120],
        data.y_test[:120],
    )


def test_swiglu_ensemble_forward_matches_the_keras_layer():
    data = _small_split()
    ensemble = SwiGLUEnsemble([NetSpec("silu", s) for s in (3, 5)], hidden=9)
    logits, [(gate, gated)] = ensemble.forward(data.x_val, return_hidden=True)
    for n in range(2):
        layer = SwiGLUReference(9, 10)
        layer.build((None, 64))
        layer.set_weights([np.asarray(v)[n] for v in ensemble.trainable_variables])
        np.testing.assert_allclose(np.asarray(logits)[n], layer(data.x_val).numpy(), atol=1e-4)
    assert gate.shape == gated.shape == (2, len(data.x_val), 9)
    assert ensemble.parameter_count() == swiglu_parameter_count(64, 9, 10)


def test_swiglu_ensemble_trains_as_a_keras_layer_alone():
    """train_ensemble on the duck-typed SwiGLUEnsemble gives each network the same updates
    as keras Adam on one SwiGLU layer fed the same batches."""
    data = _small_split(n_train=160)
    seed, hidden, batch, epochs, lr = 4, 6, 32, 2, 3e-3
    ensemble = SwiGLUEnsemble([NetSpec("silu", 9), NetSpec("silu", seed)], hidden=hidden)
    start = [np.asarray(v)[1].copy() for v in ensemble.trainable_variables]
    train_ensemble(ensemble, data, epochs=epochs, learning_rate=lr, batch_size=batch)

    layer = SwiGLUReference(hidden, 10)
    layer.build((None, 64))
    layer.set_weights(start)
    optimizer = keras.optimizers.Adam(lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    order_rng = np.random.default_rng(1000 + seed)
    n = len(data.x_train)
    for _ in range(epochs):
        order = order_rng.permutation(n)
        for i in range(n // batch):
            index = order[i * batch : (i + 1) * batch]
            with tf.GradientTape() as tape:
                loss = loss_fn(data.y_train[index], layer(data.x_train[index]))
            grads = tape.gradient(loss, layer.trainable_weights)
            optimizer.apply_gradients(zip(grads, layer.trainable_weights, strict=True))
    for mine, alone in zip(ensemble.trainable_variables, layer.weights, strict=True):
        np.testing.assert_allclose(np.asarray(mine)[1], alone.numpy(), atol=2e-5)


# ------------------------------------------------------------------ runners
@pytest.fixture(scope="module")
def ablation():
    return swiglu_ablation(_small_split(), seeds=(0, 1), epochs=2, width=16)


def test_ablation_structure_and_parameter_matching(ablation):
    assert ablation.arms == ["relu", "gelu", "silu", "swiglu"]
    mlp = ablation.parameters["relu"]
    assert mlp == mlp_parameter_count(64, 16, 10)
    assert abs(ablation.parameters["swiglu"] - mlp) <= (2 * 64 + 10) / 2
    for field in ("test_accuracy", "val_accuracy", "zeros_init", "zeros_trained"):
        values = getattr(ablation, field)
        assert set(values) == set(ablation.arms)
        assert all(v.shape == (2,) for v in values.values())
    assert all(0.1 < a < 1.0 for a in ablation.test_accuracy["relu"])


def test_ablation_is_paired_and_measures_zeros(ablation):
    # network order: activation-major, seeds in order; same seed → same initial weights
    specs = ablation.ensemble.specs
    assert [(s.activation, s.seed) for s in specs] == [
        (a, seed) for a in ("relu", "gelu", "silu") for seed in (0, 1)
    ]
    fresh = MLPEnsemble(specs, depth=1, width=16)
    kernels = np.asarray(fresh.kernels[0])
    np.testing.assert_array_equal(kernels[0], kernels[2])  # relu seed 0, gelu seed 0
    np.testing.assert_array_equal(kernels[0], kernels[4])  # silu seed 0
    assert not np.array_equal(kernels[0], kernels[1])
    assert np.all(np.abs(ablation.zeros_init["relu"] - 0.5) < 0.1)
    for smooth in ("silu", "swiglu"):
        assert np.all(ablation.zeros_trained[smooth] < 0.01)
    assert np.all(ablation.near_zeros_trained["relu"] >= ablation.zeros_trained["relu"])


def test_ablation_needs_a_test_part():
    data = _small_split()
    with pytest.raises(ValueError, match="test"):
        swiglu_ablation(Split(data.x_train, data.y_train, data.x_val, data.y_val), epochs=1)


def test_relufication_swaps_copies_and_controls(ablation):
    data = _small_split()
    before = [np.asarray(v).copy() for v in ablation.ensemble.kernels]
    result = relufication(ablation.ensemble, data, epochs=0)
    for old, new in zip(before, ablation.ensemble.kernels, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))  # the trained nets are untouched
    # with no fine-tuning, "relufied" is the bare swap and the control is the original
    np.testing.assert_array_equal(result.accuracy["relufied"], result.accuracy["swapped"])
    np.testing.assert_array_equal(result.accuracy["gelu_finetuned"], result.accuracy["before"])
    # "before" is the trained GELU networks' own test accuracy
    gelu = [i for i, s in enumerate(ablation.ensemble.specs) if s.activation == "gelu"]
    logits = np.asarray(ablation.ensemble.forward(data.x_test))[gelu]
    np.testing.assert_allclose(
        result.accuracy["before"], np.mean(logits.argmax(-1) == data.y_test, axis=1)
    )
    assert np.all(result.zeros["swapped"] > 0.2) and np.all(result.zeros["before"] < 0.05)

    tuned = relufication(ablation.ensemble, data, epochs=1)
    assert not np.array_equal(tuned.accuracy["relufied"], tuned.accuracy["swapped"]) or not (
        np.array_equal(tuned.zeros["relufied"], tuned.zeros["swapped"])
    )
    assert np.all(tuned.zeros["gelu_finetuned"] < 0.05)


def test_relufication_needs_source_networks(ablation):
    with pytest.raises(ValueError, match="no 'tanh'"):
        relufication(ablation.ensemble, _small_split(), source="tanh")


def test_network_sparsity_sees_dead_relu_units():
    data = _small_split()
    ensemble = MLPEnsemble([NetSpec("relu", 0)], depth=1, width=8)
    ensemble.biases[0].assign(np.full((1, 1, 8), -1e3, np.float32))  # every unit dead
    zeros, near = network_sparsity(ensemble, data.x_val)
    assert zeros[0] == 1.0 and near[0] == 1.0


def test_lazy_neuron_run():
    out = lazy_neuron_run(_small_split(), width=32, epochs=1, seeds=(0, 1))
    assert set(out) == {"init", "trained", "test_accuracy"}
    assert out["init"].shape == out["trained"].shape == (2,)
    assert np.all(np.abs(out["init"] - 0.5) < 0.1)
