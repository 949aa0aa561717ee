"""NumPy BN references (forward, backward, folding) against Keras and tf.GradientTape, and the
notebook-06 runners on small data."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.backprop import numerical_gradient
from relu_course.batch_norm import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference,
    fold_batchnorm,
    update_moving_average,
)
from relu_course.data import Split, load_digits_split
from relu_course.ensemble import MLPEnsemble, NetSpec
from relu_course.experiments.batch_norm import (
    batch_size_sweep,
    batch_statistics_noise,
    bn_rescue_run,
    bn_speedup_run,
    count_graph_ops,
    ensemble_to_keras,
    fold_bn_model,
    folding_demo,
    initial_outputs,
    placement_run,
    training_mode_accuracy,
    unit_zero_fractions,
    weight_scale_sweep,
)
from relu_course.models import build_mlp


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


def _backward_case(seed, batch=9, features=4, eps=1e-3):
    rng = np.random.default_rng(seed)
    scale = np.array([0.02, 0.5, 1.0, 4.0])[:features]  # one variance comparable to eps
    x = rng.normal(size=(batch, features)) * scale + rng.normal(size=features)
    gamma = rng.uniform(0.5, 2.0, size=features) * rng.choice([-1, 1], size=features)
    beta = rng.normal(size=features)
    dout = rng.normal(size=(batch, features))
    return dout, x, gamma, beta, eps


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("eps", [1e-3, 1e-5])
def test_backward_forms_agree_with_gradient_tape(seed, eps):
    dout, x, gamma, beta, eps = _backward_case(seed, eps=eps)
    closed = batchnorm_backward(dout, x, gamma, eps)
    xt, gt, bt = tf.Variable(x), tf.Variable(gamma), tf.Variable(beta)
    with tf.GradientTape() as tape:
        mean, var = tf.nn.moments(xt, axes=[0])
        y = tf.nn.batch_normalization(xt, mean, var, bt, gt, eps)
        loss = tf.reduce_sum(y * dout)
    tape_grads = [np.asarray(g) for g in tape.gradient(loss, [xt, gt, bt])]
    for a, c in zip(closed, tape_grads, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-11)
        assert a.dtype == np.float64


def test_backward_matches_keras_layer_and_numerical_gradient():
    dout, x, gamma, beta, eps = _backward_case(3, batch=6)
    dx, dgamma, dbeta = batchnorm_backward(dout, x, gamma, eps)
    layer = keras.layers.BatchNormalization(epsilon=eps)
    layer.build(x.shape)
    layer.gamma.assign(gamma.astype(np.float32))
    layer.beta.assign(beta.astype(np.float32))
    x32 = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x32)
        loss = tf.reduce_sum(layer(x32, training=True) * dout.astype(np.float32))
    kx, kgamma, kbeta = tape.gradient(loss, [x32, layer.gamma, layer.beta])
    scale = np.abs(dx).max()
    np.testing.assert_allclose(dx, np.asarray(kx), atol=1e-4 * scale)
    np.testing.assert_allclose(dgamma, np.asarray(kgamma), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, np.asarray(kbeta), rtol=1e-5, atol=1e-5)

    def loss_of(value, which):
        args = {"x": x, "gamma": gamma, "beta": beta}
        args[which] = value
        return float(np.sum(batchnorm_forward(args["x"], args["gamma"], args["beta"], eps) * dout))

    for got, which, at in ((dx, "x", x), (dgamma, "gamma", gamma), (dbeta, "beta", beta)):
        numeric = numerical_gradient(lambda v, w=which: loss_of(v, w), at.copy())
        np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-7)


def test_backward_of_a_constant_batch_and_no_mutation():
    x = np.full((5, 3), 2.0)
    dout = np.random.default_rng(4).normal(size=(5, 3))
    x0, dout0 = x.copy(), dout.copy()
    dx, dgamma, dbeta = batchnorm_backward(dout, x, np.ones(3))
    assert np.array_equal(x, x0) and np.array_equal(dout, dout0)
    # x̂ = 0 everywhere: dgamma = 0; dx = gamma/√eps · (dout − mean(dout))
    np.testing.assert_allclose(dgamma, 0.0)
    np.testing.assert_allclose(dbeta, dout.sum(0))
    np.testing.assert_allclose(dx, (dout - dout.mean(0)) / np.sqrt(1e-3))


@pytest.mark.parametrize("use_bias", [True, False])
def test_fold_batchnorm_equals_dense_then_inference_bn(use_bias):
    rng = np.random.default_rng(5)
    kernel = rng.normal(size=(7, 4))
    bias = rng.normal(size=4) if use_bias else None
    gamma, beta = rng.uniform(-2, 2, size=4), rng.normal(size=4)
    mean, var = rng.normal(size=4), rng.uniform(0.01, 3, size=4)
    x = rng.normal(size=(11, 7))
    k2, b2 = fold_batchnorm(kernel, bias, gamma, beta, mean, var, eps=1e-2)
    pre = x @ kernel + (0 if bias is None else bias)
    np.testing.assert_allclose(
        x @ k2 + b2, batchnorm_inference(pre, gamma, beta, mean, var, 1e-2), atol=1e-12
    )
    assert k2.shape == kernel.shape and b2.shape == (4,)


def test_references_do_not_mutate_inputs():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 3))
    moving = np.ones(3)
    kernel, mean, var = rng.normal(size=(2, 3)), rng.normal(size=3), np.ones(3)
    saved = [a.copy() for a in (x, moving, kernel, mean, var)]
    batchnorm_forward(x, np.ones(3), np.zeros(3))
    update_moving_average(moving, np.zeros(3))
    batchnorm_backward(x, x, np.ones(3))
    fold_batchnorm(kernel, None, np.ones(3), np.zeros(3), mean, var)
    for a, b in zip((x, moving, kernel, mean, var), saved, strict=True):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------ runners, on small data
@pytest.fixture(scope="module")
def small():
    digits = load_digits_split()
    return Split(digits.x_train[:240], digits.y_train[:240], digits.x_val[:96], digits.y_val[:96])


def test_speedup_run_counts_epochs_to_the_threshold(small):
    result = bn_speedup_run(small, seeds=(0, 1), epochs=3, threshold=0.3, progress=False)
    for label in ("without BN", "with BN"):
        run = result[label]
        assert run["val_accuracy"].shape == (3, 2)
        for i in range(2):
            curve = run["val_accuracy"][:, i]
            reached = np.flatnonzero(curve >= 0.3)
            expected = reached[0] + 1 if reached.size else np.inf
            assert run["epochs_to_threshold"][i] == expected


def test_rescue_run_structure_and_the_bad_init_plain_net_is_stuck(small):
    result = bn_rescue_run(small, seeds=(0, 1), depth=4, width=16, epochs=1, progress=False)
    for name in ("high learning rate", "bad initialization"):
        for label in ("without BN", "with BN"):
            run = result[name][label]
            assert run["val_accuracy"].shape == (1, 2) and run["final"].shape == (2,)
            assert run["finite"].dtype == bool
            assert np.all((run["dead_fraction"] >= 0) & (run["dead_fraction"] <= 1))
    # N(0, 0.01²) weights through 4 ReLU layers: logits ≈ 0, the loss sits at ln 10
    np.testing.assert_allclose(
        result["bad initialization"]["without BN"]["val_loss"], np.log(10), atol=0.02
    )


def test_placement_run_momentum_changes_only_the_moving_statistics(small):
    result = placement_run(small, seeds=(0, 1), epochs=1, progress=False)
    assert {"no BN", "before", "after", "before, momentum 0.99"} <= set(result)
    # same weights (momentum does not enter training): training-mode accuracy is identical
    np.testing.assert_array_equal(
        result["before"]["training_mode_accuracy"],
        result["before, momentum 0.99"]["training_mode_accuracy"],
    )
    # without BN the two modes are the same function
    np.testing.assert_array_equal(
        result["no BN"]["inference_accuracy"], result["no BN"]["training_mode_accuracy"]
    )
    for run in result.values():
        if isinstance(run, dict):
            assert np.all((run["sparsity"] >= 0) & (run["sparsity"] <= 1))
            units = run["unit_zero_fractions"]
            assert units.shape == (3 * 100, 2)
            # the net-wide zero fraction is the mean over units (equal-sized layers)
            np.testing.assert_allclose(units.mean(axis=0), run["sparsity"], atol=1e-6)
            np.testing.assert_allclose(
                run["distance_from_half"], np.mean(np.abs(units - 0.5), axis=0)
            )


def test_unit_zero_fractions_per_unit(small):
    ensemble = MLPEnsemble(
        [NetSpec("relu", 0), NetSpec("relu", 1)], depth=2, width=8, input_dim=small.num_features
    )
    # unit 0 of layer 1 always off, unit 1 always on (large positive bias), in network 0
    kernel = np.asarray(ensemble.kernels[0]).copy()
    kernel[0, :, 0], kernel[0, :, 1] = -1.0, 0.0
    ensemble.kernels[0].assign(kernel)
    bias = np.zeros((2, 1, 8), np.float32)
    bias[0, 0, 1] = 5.0
    ensemble.biases[0].assign(bias)
    x = np.abs(small.x_val) + 0.1  # every input positive
    fractions = unit_zero_fractions(ensemble, x)
    assert fractions.shape == (2, 16)
    _, hidden = ensemble.forward(x, return_hidden=True)
    expected = np.mean(np.asarray(hidden[1][1])[1] == 0, axis=0)
    np.testing.assert_allclose(fractions[1, 8:], expected)
    # positive inputs through a negative kernel column: off on every example
    assert fractions[0, 0] == 1.0 and fractions[0, 1] == 0.0


def test_initial_outputs_uses_batch_statistics_and_restores_the_moving_averages(small):
    specs = [
        NetSpec("relu", 0, init="normal:0.01"),
        NetSpec("relu", 0, init="normal:0.01", batch_norm="before"),
    ]
    ensemble = MLPEnsemble(specs, depth=4, width=16, input_dim=small.num_features)
    saved = [np.asarray(v).copy() for v in ensemble.moving_means + ensemble.moving_variances]
    loss, logit_rms = initial_outputs(ensemble, small.x_val, small.y_val)
    for a, v in zip(saved, ensemble.moving_means + ensemble.moving_variances, strict=True):
        np.testing.assert_array_equal(a, np.asarray(v))
    # the plain net's signal shrinks layer by layer: logits ≈ 0 and the loss is ln 10;
    # BN restores unit scale before every ReLU, so its logits are far larger
    assert logit_rms[0] < 1e-4 < logit_rms[1]
    np.testing.assert_allclose(loss[0], np.log(10), atol=1e-3)


def test_training_mode_accuracy_leaves_moving_statistics_alone(small):
    ensemble = MLPEnsemble([NetSpec("relu", 0, batch_norm="before")], depth=2, width=8)
    before = [np.asarray(v).copy() for v in ensemble.moving_means]
    training_mode_accuracy(ensemble, small.x_val, small.y_val)
    for a, v in zip(before, ensemble.moving_means, strict=True):
        np.testing.assert_array_equal(a, np.asarray(v))


@pytest.mark.parametrize("order", ["before", "after", None])
def test_ensemble_to_keras_and_folding_keep_the_logits(small, order):
    ensemble = MLPEnsemble([NetSpec("relu", 3, batch_norm=order)], depth=2, width=8)
    ensemble.forward(small.x_train[:64], training=True)  # move the statistics off 0 and 1
    for layer in range(2):
        ensemble.gammas[layer].assign(np.random.default_rng(layer).uniform(0.5, 2, (1, 1, 8)))
    model = ensemble_to_keras(ensemble, 0)
    expected = np.asarray(ensemble.forward(small.x_val))[0]
    np.testing.assert_allclose(np.asarray(model(small.x_val)), expected, rtol=1e-4, atol=1e-4)
    folded = fold_bn_model(model)
    np.testing.assert_allclose(np.asarray(folded(small.x_val)), expected, rtol=1e-4, atol=1e-4)
    bns = [layer for layer in folded.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == (2 if order == "after" else 0)


def test_folding_demo_reports_fewer_ops():
    model = build_mlp(2, 8, batch_norm="before")
    report = folding_demo(model, np.zeros((5, 64), np.float32), repeats=2, number=2)
    assert report["max_abs_difference"] < 1e-5
    assert report["folded_ops"] < report["ops"] == count_graph_ops(model, 64)
    assert report["folded_layers"] == report["layers"] - 2
    assert report["time"] > 0 and report["folded_time"] > 0


def test_sweeps_structure(small):
    scales = weight_scale_sweep(
        small, scales=(0.01, 1.0), seeds=(0, 1), depth=2, width=8, epochs=1, progress=False
    )
    batches = batch_size_sweep(
        small, batch_sizes=(4, 32), seeds=(0, 1), depth=1, width=8, progress=False
    )
    for label in ("without BN", "with BN"):
        assert scales[label]["val_accuracy"].shape == (2, 2)
        assert scales[label]["initial_loss"].shape == (2, 2)
        assert np.all(np.isfinite(scales[label]["initial_loss"]))
        assert batches[label]["val_accuracy"].shape == (2, 2)


def test_batch_statistics_noise_shrinks_with_the_batch():
    x = np.random.default_rng(6).normal(size=(500, 3))
    noise = batch_statistics_noise(x, [2, 8, 128], draws=300)
    assert set(noise) == {2, 8, 128}
    assert np.all(noise[2] > noise[8]) and np.all(noise[8] > noise[128])


def test_figures():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from relu_course.plots.batch_norm import (
        batch_noise,
        bn_histograms,
        moving_average_lag,
        paired_differences,
        seed_curves,
        sweep,
        unit_sparsity,
    )

    rng = np.random.default_rng(7)
    figures = [
        seed_curves({"a": rng.uniform(size=(4, 3)), "b": rng.uniform(size=(4, 3))}, "t", 0.9),
        paired_differences({"a − b": rng.normal(size=5)}, "t", margin=0.02),
        sweep([1e-2, 1e-1], {"a": rng.uniform(size=(2, 5))}, "t", xlabel="scale"),
        batch_noise({2: np.ones(3), 8: np.full(3, 0.5)}),
        bn_histograms(rng.normal(size=(20, 2)), rng.normal(size=(20, 2))),
        moving_average_lag(rng.normal(size=30)),
        unit_sparsity({"a": rng.uniform(size=(10, 3)), "b": rng.uniform(size=(10, 3))}),
    ]
    for figure in figures:
        assert isinstance(figure, Figure) and figure.axes
        plt.close(figure)
