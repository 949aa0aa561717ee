"""Checks of notebook 06 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from relu_course.checks import (
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
    "no_scale": lambda units, order: [
        layers.BatchNormalization(scale=False)
        if isinstance(layer, layers.BatchNormalization)
        else layer
        for layer in _block(units, order)
    ],
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
