"""Checks of notebook 06 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from relu_course.checks import (
    check_batchnorm_backward,
    check_batchnorm_forward,
    check_bn_relu_block,
    check_update_moving_average,
)


def _stub(*args):
    raise NotImplementedError()


# ---------------------------------------------------------------- batchnorm_forward
def _bn_loop(x, gamma, beta, eps=1e-3):
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        column = x[:, j]
        mu = column.sum() / len(column)
        var = ((column - mu) ** 2).sum() / len(column)
        out[:, j] = gamma[j] * (column - mu) / np.sqrt(var + eps) + beta[j]
    return out


BN_FORWARD_CORRECT = {
    "numpy": lambda x, g, b, eps=1e-3: (x - x.mean(0)) / np.sqrt(x.var(0) + eps) * g + b,
    "float64_then_back": lambda x, g, b, eps=1e-3: (
        (x.astype(np.float64) - x.mean(0, dtype=np.float64))
        / np.sqrt(x.astype(np.float64).var(0) + eps)
        * g
        + b
    ).astype(x.dtype),
    "loop_over_features": _bn_loop,
    "tf_moments": lambda x, g, b, eps=1e-3: tf.nn.batch_normalization(
        x, *tf.nn.moments(tf.constant(x), axes=[0]), b, g, eps
    ).numpy(),
    "keras_layer": lambda x, g, b, eps=1e-3: np.asarray(
        keras.layers.BatchNormalization(
            epsilon=eps,
            gamma_initializer=keras.initializers.Constant(g),
            beta_initializer=keras.initializers.Constant(b),
        )(x, training=True)
    ),
    "rsqrt_form": lambda x, g, b, eps=1e-3: (
        (x - x.mean(0)) * (g / np.sqrt(np.mean((x - x.mean(0)) ** 2, axis=0) + eps)) + b
    ),
}

BN_FORWARD_WRONG = {
    "unbiased_variance": (
        lambda x, g, b, eps=1e-3: (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) * g + b,
        "unbiased",
    ),
    "eps_outside_sqrt": (
        lambda x, g, b, eps=1e-3: (x - x.mean(0)) / (x.std(0) + eps) * g + b,
        "outside the square root",
    ),
    "over_features": (
        lambda x, g, b, eps=1e-3: (
            (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps) * g + b
        ),
        "over the features",
    ),
    "gamma_beta_swapped": (
        lambda x, g, b, eps=1e-3: (x - x.mean(0)) / np.sqrt(x.var(0) + eps) * b + g,
        "swapped",
    ),
    "pytorch_eps": (
        lambda x, g, b, eps=1e-5: (x - x.mean(0)) / np.sqrt(x.var(0) + eps) * g + b,
        "pytorch",
    ),
    "ignores_eps_argument": (
        lambda x, g, b, eps=1e-3: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * g + b,
        "eps",
    ),
    "no_affine": (
        lambda x, g, b, eps=1e-3: (x - x.mean(0)) / np.sqrt(x.var(0) + eps),
        "without gamma and beta",
    ),
    "no_eps": (lambda x, g, b, eps=1e-3: (x - x.mean(0)) / x.std(0) * g + b, "wrong value"),
    "in_place": (
        lambda x, g, b, eps=1e-3: (
            x.__isub__(x.mean(0)),
            x.__imul__(g / np.sqrt(x.var(0) + eps)),
            x.__iadd__(b),
            x,
        )[-1],
        "in place",
    ),
    "tf_tensor": (lambda x, g, b, eps=1e-3: tf.constant(x), "not a numpy array"),
    "returns_none": (lambda x, g, b, eps=1e-3: None, "return"),
    "list": (lambda x, g, b, eps=1e-3: x.tolist(), "not a numpy array"),
    "stub": (_stub, "not implemented yet"),
    "mean_only": (lambda x, g, b, eps=1e-3: (x - x.mean(0)) * g + b, "wrong value"),
    "global_statistics": (
        lambda x, g, b, eps=1e-3: (x - x.mean()) / np.sqrt(x.var() + eps) * g + b,
        "wrong value",
    ),
}


@pytest.mark.parametrize("name", BN_FORWARD_CORRECT)
def test_batchnorm_forward_accepts(name):
    check_batchnorm_forward(BN_FORWARD_CORRECT[name])


@pytest.mark.parametrize("name", BN_FORWARD_WRONG)
def test_batchnorm_forward_rejects(name, rejected):
    candidate, fragment = BN_FORWARD_WRONG[name]
    rejected(check_batchnorm_forward, candidate, fragment)


# ---------------------------------------------------------------- update_moving_average
def _in_place_update(moving, batch_value, momentum=0.99):
    moving *= momentum
    moving += (1 - momentum) * batch_value
    return moving


MOVING_CORRECT = {
    "textbook": lambda m, b, momentum=0.99: momentum * m + (1 - momentum) * b,
    "lerp": lambda m, b, momentum=0.99: m + (1 - momentum) * (b - m),
    "np_average": lambda m, b, momentum=0.99: np.average(
        np.stack([np.asarray(m, np.float64), np.asarray(b, np.float64)]),
        axis=0,
        weights=[momentum, 1 - momentum],
    ),
    "copy_then_in_place": lambda m, b, momentum=0.99: _in_place_update(
        np.array(m, dtype=np.float64), b, momentum
    ),
}

MOVING_WRONG = {
    "pytorch_convention": (
        lambda m, b, momentum=0.99: (1 - momentum) * m + momentum * b,
        "pytorch",
    ),
    "in_place": (_in_place_update, "in place"),
    "default_0_9": (lambda m, b, momentum=0.9: momentum * m + (1 - momentum) * b, "0.99"),
    "returns_batch_value": (lambda m, b, momentum=0.99: np.array(b), "wrong value"),
    "returns_none": (lambda m, b, momentum=0.99: None, "return"),
    "returns_list": (
        lambda m, b, momentum=0.99: list(momentum * m + (1 - momentum) * b),
        "not a numpy array",
    ),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", MOVING_CORRECT)
def test_update_moving_average_accepts(name):
    check_update_moving_average(MOVING_CORRECT[name])


@pytest.mark.parametrize("name", MOVING_WRONG)
def test_update_moving_average_rejects(name, rejected):
    candidate, fragment = MOVING_WRONG[name]
    rejected(check_update_moving_average, candidate, fragment)


# ---------------------------------------------------------------- bn_relu_block
def _block(units, order):
    if order == "before":
        return [layers.Dense(units, use_bias=False), layers.BatchNormalization(), layers.ReLU()]
    return [layers.Dense(units), layers.ReLU(), layers.BatchNormalization()]


_CACHE: dict = {}


BLOCK_CORRECT = {
    "textbook": _block,
    "activation_relu_and_momentum": lambda units, order: (
        [
            layers.Dense(units, use_bias=False),
            layers.BatchNormalization(momentum=0.9),
            layers.Activation("relu"),
        ]
        if order == "before"
        else [
            layers.Dense(units),
            layers.Activation("relu"),
            layers.BatchNormalization(momentum=0.9),
        ]
    ),
    "folded_relu_after": lambda units, order: (
        _block(units, order)
        if order == "before"
        else [layers.Dense(units, activation="relu"), layers.BatchNormalization()]
    ),
    "tuple": lambda units, order: tuple(_block(units, order)),
    "he_init": lambda units, order: (
        [
            layers.Dense(units, use_bias=False, kernel_initializer="he_normal"),
            layers.BatchNormalization(),
            layers.ReLU(),
        ]
        if order == "before"
        else [
            layers.Dense(units, kernel_initializer="he_normal"),
            layers.ReLU(),
            layers.BatchNormalization(),
        ]
    ),
}

BLOCK_WRONG = {
    "no_scale": (
        lambda units, order: [
            layers.BatchNormalization(scale=False)
            if isinstance(layer, layers.BatchNormalization)
            else layer
            for layer in _block(units, order)
        ],
        "scale gamma",
    ),
    "orders_swapped": (
        lambda units, order: _block(units, "after" if order == "before" else "before"),
        "bias",
    ),
    "orders_swapped_no_bias": (
        lambda units, order: (
            [layers.Dense(units, use_bias=False), layers.ReLU(), layers.BatchNormalization()]
            if order == "before"
            else _block(units, "before")
        ),
        "must be dense → batchnormalization",
    ),
    "bias_before_bn": (
        lambda units, order: (
            [layers.Dense(units), layers.BatchNormalization(), layers.ReLU()]
            if order == "before"
            else _block(units, order)
        ),
        "bias",
    ),
    "missing_relu": (
        lambda units, order: [
            layers.Dense(units, use_bias=order != "before"),
            layers.BatchNormalization(),
        ],
        "no relu",
    ),
    "folded_relu_before": (
        lambda units, order: (
            [layers.Dense(units, use_bias=False, activation="relu"), layers.BatchNormalization()]
            if order == "before"
            else _block(units, order)
        ),
        "inside the dense",
    ),
    "leaky_instead_of_relu": (
        lambda units, order: [
            layer if not isinstance(layer, layers.ReLU) else layers.LeakyReLU()
            for layer in _block(units, order)
        ],
        "no relu",
    ),
    "wrong_units": (lambda units, order: _block(units + 1, order), "units"),
    "reuses_layers": (
        lambda units, order: _CACHE.setdefault((units, order), _block(units, order)),
        "same layer",
    ),
    "layer_norm_instead": (
        lambda units, order: [
            layers.LayerNormalization() if isinstance(layer, layers.BatchNormalization) else layer
            for layer in _block(units, order)
        ],
        "batchnormalization",
    ),
    "relu6": (
        lambda units, order: [
            layers.ReLU(max_value=6.0) if isinstance(layer, layers.ReLU) else layer
            for layer in _block(units, order)
        ],
        "no relu",
    ),
    "returns_model": (lambda units, order: keras.layers.Dense(units), "not a list"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", BLOCK_CORRECT)
def test_bn_relu_block_accepts(name):
    check_bn_relu_block(BLOCK_CORRECT[name])


@pytest.mark.parametrize("name", BLOCK_WRONG)
def test_bn_relu_block_rejects(name, rejected):
    candidate, fragment = BLOCK_WRONG[name]
    rejected(check_bn_relu_block, candidate, fragment)


# ---------------------------------------------------------------- batchnorm_backward
def _bw_closed(dout, x, gamma, eps=1e-3):
    n = x.shape[0]
    inv = 1.0 / np.sqrt(x.var(0) + eps)
    x_hat = (x - x.mean(0)) * inv
    dx = gamma * inv / n * (n * dout - dout.sum(0) - x_hat * (dout * x_hat).sum(0))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _bw_graph(dout, x, gamma, eps=1e-3):
    n = x.shape[0]
    mu = x.mean(0)
    xc = x - mu
    var = (xc**2).mean(0)
    std = np.sqrt(var + eps)
    x_hat = xc / std
    dx_hat = dout * gamma
    dxc = dx_hat / std
    dstd = -(dx_hat * xc).sum(0) / std**2
    dvar = dstd / (2 * std)
    dxc = dxc + dvar * 2 * xc / n
    dmu = -dxc.sum(0)
    return dxc + dmu / n, (dout * x_hat).sum(0), dout.sum(0)


def _bw_tape(dout, x, gamma, eps=1e-3):
    xt, gt = tf.Variable(x), tf.Variable(gamma)
    bt = tf.Variable(tf.zeros_like(gt))
    with tf.GradientTape() as tape:
        mean, var = tf.nn.moments(xt, axes=[0])
        loss = tf.reduce_sum(tf.nn.batch_normalization(xt, mean, var, bt, gt, eps) * dout)
    return tuple(np.asarray(g) for g in tape.gradient(loss, [xt, gt, bt]))


def _bw_loop(dout, x, gamma, eps=1e-3):
    dx = np.empty_like(x)
    dgamma, dbeta = np.empty_like(gamma), np.empty_like(gamma)
    for j in range(x.shape[1]):
        column, d = x[:, j], dout[:, j]
        inv = 1.0 / np.sqrt(column.var() + eps)
        x_hat = (column - column.mean()) * inv
        dgamma[j], dbeta[j] = (d * x_hat).sum(), d.sum()
        dx[:, j] = gamma[j] * inv * (d - d.mean() - x_hat * (d * x_hat).mean())
    return dx, dgamma, dbeta


BACKWARD_CORRECT = {
    "closed_form": _bw_closed,
    "graph": _bw_graph,
    "gradient_tape": _bw_tape,
    "loop_over_features": _bw_loop,
    "list_result": lambda dout, x, gamma, eps=1e-3: list(_bw_closed(dout, x, gamma, eps)),
}


def _bw_with(dx=None, dgamma=None, dbeta=None):
    """A wrong candidate: the closed form with one part replaced."""

    def candidate(dout, x, gamma, eps=1e-3):
        right = _bw_closed(dout, x, gamma, eps)
        parts = [
            part(dout, x, gamma, eps) if part is not None else right[i]
            for i, part in enumerate((dx, dgamma, dbeta))
        ]
        return tuple(parts)

    return candidate


def _x_hat(x, eps):
    return (x - x.mean(0)) / np.sqrt(x.var(0) + eps)


def _unbiased(dout, x, gamma, eps=1e-3):
    n = x.shape[0]
    xc = x - x.mean(0)
    s = 1.0 / np.sqrt((xc**2).sum(0) / (n - 1) + eps)
    return gamma * s * (dout - dout.mean(0) - xc * s**2 * (dout * xc).sum(0) / (n - 1))


def _eps_outside(dout, x, gamma, eps=1e-3):
    xc = x - x.mean(0)
    sigma = x.std(0)
    t = 1.0 / (sigma + eps)
    n = x.shape[0]
    return gamma * t * (dout - dout.mean(0) - xc * t / (n * sigma) * (dout * xc).sum(0))


def _inv(x, eps):
    return 1.0 / np.sqrt(x.var(0) + eps)


BACKWARD_WRONG = {
    "variance_path_forgotten": (
        _bw_with(dx=lambda d, x, g, e: g * _inv(x, e) * (d - d.mean(0))),
        "path through the variance",
    ),
    "mean_path_forgotten": (
        _bw_with(
            dx=lambda d, x, g, e: g * _inv(x, e) * (d - _x_hat(x, e) * (d * _x_hat(x, e)).mean(0))
        ),
        "path through the mean",
    ),
    "statistics_as_constants": (
        _bw_with(dx=lambda d, x, g, e: g * _inv(x, e) * d),
        "constants",
    ),
    "sqrt_derivative_factor": (
        _bw_with(
            dx=lambda d, x, g, e: (
                g * _inv(x, e) * (d - d.mean(0) - 2 * _x_hat(x, e) * (d * _x_hat(x, e)).mean(0))
            )
        ),
        "factor 2",
    ),
    "squared_deviation_factor": (
        _bw_with(
            dx=lambda d, x, g, e: (
                g * _inv(x, e) * (d - d.mean(0) - 0.5 * _x_hat(x, e) * (d * _x_hat(x, e)).mean(0))
            )
        ),
        "factor 1/2",
    ),
    "gamma_missing_in_dx": (
        _bw_with(
            dx=lambda d, x, g, e: (
                _inv(x, e) * (d - d.mean(0) - _x_hat(x, e) * (d * _x_hat(x, e)).mean(0))
            )
        ),
        "gamma is missing",
    ),
    "unbiased_variance": (_bw_with(dx=_unbiased), "unbiased"),
    "eps_outside_sqrt": (_bw_with(dx=_eps_outside), "outside the square root"),
    "pytorch_eps_default": (
        lambda d, x, g, eps=1e-5: _bw_closed(d, x, g, eps),
        "pytorch",
    ),
    "eps_ignored": (lambda d, x, g, eps=1e-3: _bw_closed(d, x, g, 1e-3), "eps argument"),
    "dgamma_not_summed": (_bw_with(dgamma=lambda d, x, g, e: d * _x_hat(x, e)), "sums"),
    "dbeta_not_summed": (_bw_with(dbeta=lambda d, x, g, e: d), "sums"),
    "dgamma_mean": (_bw_with(dgamma=lambda d, x, g, e: (d * _x_hat(x, e)).mean(0)), "averaged"),
    "dbeta_mean": (_bw_with(dbeta=lambda d, x, g, e: d.mean(0)), "averaged"),
    "dgamma_with_x": (
        _bw_with(dgamma=lambda d, x, g, e: (d * x).sum(0)),
        "instead of the normalised",
    ),
    "dgamma_dbeta_swapped": (
        lambda d, x, g, eps=1e-3: (lambda r: (r[0], r[2], r[1]))(_bw_closed(d, x, g, eps)),
        "swapped",
    ),
    "two_results": (lambda d, x, g, eps=1e-3: _bw_closed(d, x, g, eps)[:2], "tuple of three"),
    "mutates_dout": (
        lambda d, x, g, eps=1e-3: (d.__isub__(d.mean(0)), _bw_closed(d, x, g, eps))[1],
        "in place",
    ),
    "stub": (_stub, "not implemented yet"),
    "returns_none": (lambda d, x, g, eps=1e-3: None, "not a tuple"),
}


@pytest.mark.parametrize("name", BACKWARD_CORRECT)
def test_batchnorm_backward_accepts(name):
    check_batchnorm_backward(BACKWARD_CORRECT[name])


def test_batchnorm_backward_accepts_a_float32_computation():
    def float32(dout, x, gamma, eps=1e-3):
        parts = _bw_closed(*(np.asarray(a, np.float32) for a in (dout, x, gamma)), np.float32(eps))
        return tuple(np.asarray(p, dtype=x.dtype) if x.dtype == np.float32 else p for p in parts)

    # float32 arithmetic on float32 inputs passes; on float64 inputs the check asks for
    # float64 accuracy, so this candidate computes in float64 there
    check_batchnorm_backward(
        lambda d, x, g, eps=1e-3: (
            float32(d, x, g, eps) if x.dtype == np.float32 else _bw_closed(d, x, g, eps)
        )
    )


@pytest.mark.parametrize("name", BACKWARD_WRONG)
def test_batchnorm_backward_rejects(name, rejected):
    candidate, fragment = BACKWARD_WRONG[name]
    rejected(check_batchnorm_backward, candidate, fragment)


# ---------------------------------------------------------------- grading probes
# Wrong answer cells the clean-process re-verification must reject (tests/test_verify_probes.py).
PROBE_MISCONCEPTIONS = {
    "bn_relu_block": (
        "def bn_relu_block(units, order):\n"
        "    if order == 'before':\n"
        "        return [keras.layers.Dense(units), keras.layers.ReLU(),\n"
        "                keras.layers.BatchNormalization()]\n"
        "    return [keras.layers.Dense(units, use_bias=False),\n"
        "            keras.layers.BatchNormalization(), keras.layers.ReLU()]\n"
    ),
    "batchnorm_backward": (
        "def batchnorm_backward(dout, x, gamma, eps=1e-3):\n"
        "    inv = 1.0 / np.sqrt(x.var(0) + eps)\n"
        "    x_hat = (x - x.mean(0)) * inv\n"
        "    return gamma * inv * (dout - dout.mean(0)), (dout * x_hat).sum(0), dout.sum(0)\n"
    ),
}


def _run_layers_probe(probe, candidate):
    layers_ = candidate(*(a.value for a in probe.args))
    model = keras.Sequential([keras.Input(probe.layer_input.shape[1:]), *layers_])
    model.set_weights([np.asarray(w, np.float32) for w in probe.weights])
    return np.asarray(model(probe.layer_input, training=probe.training))


def test_probes_accept_the_references_and_reject_the_misconceptions():
    """In-process: every 06 probe's expectation matches a correct answer, and each wrong answer
    above (and the forward pass's classic mistakes) fails at least one probe."""
    from relu_course.batch_norm import batchnorm_backward
    from relu_course.checks._registry import compare_structures
    from relu_course.checks.batch_norm import probes_batchnorm_backward, probes_bn_relu_block

    rng = np.random.default_rng(0)
    namespace = {"keras": keras, "np": np}
    block_probes = probes_bn_relu_block(rng)
    assert {(p.args[1].value, p.training) for p in block_probes} == {
        (o, t) for o in ("before", "after") for t in (True, False)
    }
    exec(PROBE_MISCONCEPTIONS["bn_relu_block"], namespace)
    for candidate, should_pass in ((_block, True), (namespace["bn_relu_block"], False)):
        problems = []
        for probe in block_probes:
            try:
                got = _run_layers_probe(probe, candidate)
            except ValueError as error:  # a wrong number of weights
                problems.append(str(error))
                continue
            problems.append(
                compare_structures(probe.expected, got, atol=probe.atol, rtol=probe.rtol,
                                   same_dtype=probe.same_dtype)
            )  # fmt: skip
        assert (not any(problems)) if should_pass else any(problems), problems

    exec(PROBE_MISCONCEPTIONS["batchnorm_backward"], namespace)
    for candidate, should_pass in (
        (batchnorm_backward, True),
        (_bw_graph, True),
        (namespace["batchnorm_backward"], False),
    ):
        problems = []
        for probe in probes_batchnorm_backward(rng):
            args = [np.array(a.value) for a in probe.args]
            kwargs = {k: a.value for k, a in probe.kwargs.items()}
            result = candidate(*args, **kwargs)
            got = args[probe.input_index] if probe.mode == "input_after" else list(result)
            problems.append(
                compare_structures(probe.expected, got, atol=probe.atol, rtol=probe.rtol,
                                   same_dtype=probe.same_dtype)
            )  # fmt: skip
        assert (not any(problems)) if should_pass else any(problems), problems
