"""Checks of notebook 02 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.checks import (
    check_layer_error_norms,
    check_layer_gradient_norms,
    check_sigmoid_grad,
    check_tanh_grad,
)


def _stub(*args):
    raise NotImplementedError()


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------- sigmoid_grad
SIGMOID_GRAD_CORRECT = {
    "s_times_one_minus_s": lambda x: _naive_sigmoid(x) * (1 - _naive_sigmoid(x)),
    "exp_form": lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,  # overflows quietly for x << 0
    "via_tanh": lambda x: 0.25 * (1 - np.tanh(x / 2) ** 2),
    "via_tf": lambda x: (lambda s: s * (1 - s))(tf.sigmoid(x).numpy()),
    "via_cosh": lambda x: (1 / (4 * np.cosh(x / 2) ** 2)).astype(x.dtype),
}

SIGMOID_GRAD_WRONG = {
    "sigmoid_itself": (_naive_sigmoid, "σ(x) itself"),
    "one_minus_sigmoid": (lambda x: 1 - _naive_sigmoid(x), "1 − σ(x)"),
    "tanh_derivative": (lambda x: 1 - np.tanh(x) ** 2, "derivative of tanh"),
    "float64_output": (
        lambda x: (_naive_sigmoid(x) * (1 - _naive_sigmoid(x))).astype(np.float64),
        "dtype",
    ),
    "tensor_output": (lambda x: tf.sigmoid(x) * (1 - tf.sigmoid(x)), "not a numpy array"),
    "returns_none": (lambda x: None, "return"),
    "stub": (_stub, "not implemented yet"),
    "flattened": (lambda x: np.ravel(_naive_sigmoid(x) * (1 - _naive_sigmoid(x))), "shape"),
    "in_place": (
        lambda x: (x.__setitem__(..., _naive_sigmoid(x) * (1 - _naive_sigmoid(x))), x)[1],
        "in place",
    ),
    "max_quarter_constant": (lambda x: np.full_like(x, 0.25), "wrong value"),
}


@pytest.mark.parametrize("name", SIGMOID_GRAD_CORRECT)
def test_sigmoid_grad_accepts(name):
    check_sigmoid_grad(SIGMOID_GRAD_CORRECT[name])


@pytest.mark.parametrize("name", SIGMOID_GRAD_WRONG)
def test_sigmoid_grad_rejects(name, rejected):
    candidate, fragment = SIGMOID_GRAD_WRONG[name]
    rejected(check_sigmoid_grad, candidate, fragment)


# ---------------------------------------------------------------- tanh_grad
TANH_GRAD_CORRECT = {
    "one_minus_square": lambda x: 1 - np.tanh(x) ** 2,
    "sech_squared": lambda x: (1 / np.cosh(x) ** 2).astype(x.dtype),
    "product_form": lambda x: (1 - np.tanh(x)) * (1 + np.tanh(x)),
    "via_sigmoid": lambda x: 4 * _naive_sigmoid(2 * x) * (1 - _naive_sigmoid(2 * x)),
}

TANH_GRAD_WRONG = {
    "one_minus_tanh": (lambda x: 1 - np.tanh(x), "1 − tanh(x)"),
    "tanh_itself": (np.tanh, "tanh(x) itself"),
    "one_minus_abs_tanh": (lambda x: 1 - np.abs(np.tanh(x)), "1 − |tanh(x)|"),
    "sigmoid_derivative": (
        lambda x: _naive_sigmoid(x) * (1 - _naive_sigmoid(x)),
        "derivative of the sigmoid",
    ),
    "boolean": (lambda x: np.abs(x) < 1, "booleans"),
    "list_output": (lambda x: [1 - np.tanh(v) ** 2 for v in np.ravel(x)], "not a numpy array"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", TANH_GRAD_CORRECT)
def test_tanh_grad_accepts(name):
    check_tanh_grad(TANH_GRAD_CORRECT[name])


@pytest.mark.parametrize("name", TANH_GRAD_WRONG)
def test_tanh_grad_rejects(name, rejected):
    candidate, fragment = TANH_GRAD_WRONG[name]
    rejected(check_tanh_grad, candidate, fragment)


# ---------------------------------------------------------------- layer_gradient_norms
def _dense(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _norms(
    model,
    x,
    y,
    *,
    loss=None,
    reverse=False,
    squared=False,
    biases=False,
    weights=False,
    softmax=False,
    training=False,
):
    loss_fn = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = []
    for layer in _dense(model):
        variables.append(layer.kernel)
        if biases:
            variables.append(layer.bias)
    with tf.GradientTape() as tape:
        out = model(x, training=training)
        if softmax:
            out = tf.nn.softmax(out)
        value = loss_fn(y, out)
    grads = variables if weights else tape.gradient(value, variables)
    norms = [float(tf.reduce_sum(g * g)) if squared else float(tf.norm(g)) for g in grads]
    return np.array(norms[::-1] if reverse else norms)


def _manual_loss_numpy_norms(model, x, y):
    kernels = [layer.kernel for layer in _dense(model)]
    with tf.GradientTape() as tape:
        logits = model(tf.constant(x))
        value = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    return np.array(
        [np.linalg.norm(g.numpy()) for g in tape.gradient(value, kernels)], dtype=np.float32
    )


def _keeps_grads_by_variable_name(model, x, y):
    variables = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    with tf.GradientTape() as tape:
        value = keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
        value = tf.reduce_mean(value)
    return np.sqrt([float(tf.reduce_sum(tf.square(g))) for g in tape.gradient(value, variables)])


def _applies_the_gradients(model, x, y):
    norms = _norms(model, x, y)
    for layer in _dense(model):
        layer.kernel.assign_sub(0.1 * tf.ones_like(layer.kernel))
    return norms


NORMS_CORRECT = {
    "keras_loss": _norms,
    "manual_loss_numpy_norms": _manual_loss_numpy_norms,
    "kernel_by_variable_path": _keeps_grads_by_variable_name,
}

_SUM_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
_PROBS_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=False)

NORMS_WRONG = {
    "weights_not_gradients": (lambda m, x, y: _norms(m, x, y, weights=True), "weights themselves"),
    "squared_norms": (lambda m, x, y: _norms(m, x, y, squared=True), "squared"),
    "summed_loss": (lambda m, x, y: _norms(m, x, y, loss=_SUM_LOSS), "mean"),
    "softmax_then_from_logits": (lambda m, x, y: _norms(m, x, y, softmax=True), "softmax"),
    "logits_as_probabilities": (lambda m, x, y: _norms(m, x, y, loss=_PROBS_LOSS), "from_logits"),
    "output_side_first": (lambda m, x, y: _norms(m, x, y, reverse=True), "reversed"),
    "biases_included": (lambda m, x, y: _norms(m, x, y, biases=True), "biases"),
    "all_trainable_variables": (
        lambda m, x, y: (
            lambda vs: (lambda t: np.array([float(tf.norm(g)) for g in t]))(_grads(m, x, y, vs))
        )(m.trainable_variables),
        "norm",
    ),
    "list_output": (lambda m, x, y: list(_norms(m, x, y)), "not a numpy array"),
    "applies_gradients": (_applies_the_gradients, "changed the model's weights"),
    "stub": (_stub, "not implemented yet"),
}


def _grads(model, x, y, variables):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        value = loss_fn(y, model(x))
    return tape.gradient(value, variables)


@pytest.mark.parametrize("name", NORMS_CORRECT)
def test_layer_gradient_norms_accepts(name):
    check_layer_gradient_norms(NORMS_CORRECT[name])


@pytest.mark.parametrize("name", NORMS_WRONG)
def test_layer_gradient_norms_rejects(name, rejected):
    candidate, fragment = NORMS_WRONG[name]
    rejected(check_layer_gradient_norms, candidate, fragment)


# ---------------------------------------------------------------- layer_error_norms
_ACTIVATION_CLASSES = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
)


def _errors(
    model,
    x,
    y,
    *,
    at="pre",
    loss="mean",
    reverse=False,
    reduce="frobenius",
    drop_output=False,
    training=False,
    logits="logits",
):
    """A learner's loop over the layers, with one switch per misconception."""
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    watched = []
    with tf.GradientTape() as tape:
        h = tf.constant(x)
        for layer in chain:
            if isinstance(layer, keras.layers.Dense):
                z = h @ layer.kernel + (0.0 if layer.bias is None else layer.bias)
                h = layer.activation(z)
                watched.append(z if at == "pre" else h)
            else:
                h = layer(h, training=training)
                if at == "post" and isinstance(layer, _ACTIVATION_CLASSES):
                    watched[-1] = h
        if logits == "softmax":
            h = tf.nn.softmax(h)
        if logits == "probabilities":
            value = keras.losses.sparse_categorical_crossentropy(y, h, from_logits=False)
        else:
            value = keras.losses.sparse_categorical_crossentropy(y, h, from_logits=True)
        value = tf.reduce_sum(value) if loss == "sum" else tf.reduce_mean(value)
    grads = tape.gradient(value, watched)
    if reduce == "frobenius":
        norms = [float(tf.norm(g)) for g in grads]
    elif reduce == "squared":
        norms = [float(tf.reduce_sum(g * g)) for g in grads]
    elif reduce == "per_example":
        norms = [float(tf.reduce_mean(tf.norm(g, axis=1))) for g in grads]
    else:  # "bias": the batch-summed error
        norms = [float(tf.norm(tf.reduce_sum(g, axis=0))) for g in grads]
    if drop_output:
        norms = norms[:-1]
    return np.array(norms[::-1] if reverse else norms)


def _errors_by_recording_activations(model, x, y):
    """Correct too: let every Dense layer's own activation record its input z."""
    dense = _dense(model)
    saved = [layer.activation for layer in dense]
    seen = []

    def wrap(activation):
        return lambda z: (seen.append(z), activation(z))[1]

    try:
        for layer in dense:
            layer.activation = wrap(layer.activation)
        with tf.GradientTape() as tape:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
                y, model(x, training=False)
            )
        return np.array([np.linalg.norm(g) for g in tape.gradient(loss, seen)], np.float32)
    finally:
        for layer, activation in zip(dense, saved, strict=True):
            layer.activation = activation


def _errors_then_updates(model, x, y):
    norms = _errors(model, x, y)
    for layer in _dense(model):
        layer.kernel.assign(layer.kernel * 0.5)
    return norms


ERRORS_CORRECT = {
    "layer_loop": _errors,
    "recording_activations": _errors_by_recording_activations,
    "float32_result": lambda m, x, y: _errors(m, x, y).astype(np.float32),
}

ERRORS_WRONG = {
    "activation_outputs": (lambda m, x, y: _errors(m, x, y, at="post"), "pre-activation"),
    "output_side_first": (lambda m, x, y: _errors(m, x, y, reverse=True), "reversed"),
    "summed_loss": (lambda m, x, y: _errors(m, x, y, loss="sum"), "mean"),
    "softmax_twice": (lambda m, x, y: _errors(m, x, y, logits="softmax"), "softmax"),
    "logits_as_probabilities": (
        lambda m, x, y: _errors(m, x, y, logits="probabilities"),
        "from_logits=true",
    ),
    "output_layer_missing": (
        lambda m, x, y: _errors(m, x, y, drop_output=True),
        "output layer is missing",
    ),
    "per_example_mean": (
        lambda m, x, y: _errors(m, x, y, reduce="per_example"),
        "per-example norms",
    ),
    "bias_gradients": (lambda m, x, y: _errors(m, x, y, reduce="bias"), "∂L/∂b"),
    "squared_norms": (lambda m, x, y: _errors(m, x, y, reduce="squared"), "squared"),
    "kernel_gradients": (lambda m, x, y: _norms(m, x, y), "‖∂L/∂W‖"),
    "dropout_on": (lambda m, x, y: _errors(m, x, y, training=True), "inference mode"),
    "list_output": (lambda m, x, y: list(_errors(m, x, y)), "not a numpy array"),
    "changes_weights": (_errors_then_updates, "changed the model's weights"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", ERRORS_CORRECT)
def test_layer_error_norms_accepts(name):
    check_layer_error_norms(ERRORS_CORRECT[name])


@pytest.mark.parametrize("name", ERRORS_WRONG)
def test_layer_error_norms_rejects(name, rejected):
    candidate, fragment = ERRORS_WRONG[name]
    rejected(check_layer_error_norms, candidate, fragment)


# Answer-cell sources the grader's probes must reject outside the learner's kernel
# (tests/test_verify_probes.py): one named misconception per probed exercise.
PROBE_MISCONCEPTIONS = {
    # output side first
    "layer_gradient_norms": "def layer_gradient_norms(model, x, y):\n"
    "    kernels = [l.kernel for l in model.layers if isinstance(l, keras.layers.Dense)]\n"
    "    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)\n"
    "    with tf.GradientTape() as tape:\n"
    "        loss = loss_fn(y, model(x, training=False))\n"
    "    grads = tape.gradient(loss, kernels)\n"
    "    return np.array([float(tf.norm(g)) for g in grads])[::-1]\n",
    # the gradient at each Dense layer's *output* (after its own activation), not at z
    "layer_error_norms": "def layer_error_norms(model, x, y):\n"
    "    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)\n"
    "    outputs = []\n"
    "    with tf.GradientTape() as tape:\n"
    "        h = tf.convert_to_tensor(x)\n"
    "        for layer in model.layers:\n"
    "            if isinstance(layer, keras.layers.InputLayer):\n"
    "                continue\n"
    "            h = layer(h, training=False)\n"
    "            if isinstance(layer, keras.layers.Dense):\n"
    "                outputs.append(h)\n"
    "        loss = loss_fn(y, h)\n"
    "    return np.array([float(tf.norm(g)) for g in tape.gradient(loss, outputs)])\n",
}
