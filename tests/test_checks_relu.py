"""Checks of notebook 01 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.checks import check_hat_network, check_relu_grad, check_relu_np, check_relu_tf


def _stub(*args):
    raise NotImplementedError()


def _in_place(x):
    x[x < 0] = 0
    return x


def _loops_forever(x):
    while True:
        pass


def _swallows_errors_and_loops(x):
    while True:
        try:
            pass
        except Exception:  # noqa: BLE001 - a learner's habit the time limit must survive
            pass


# ---------------------------------------------------------------- relu_np
RELU_NP_CORRECT = {
    "maximum": lambda x: np.maximum(x, 0),
    "where": lambda x: np.where(x > 0, x, 0),
    "mask_multiply": lambda x: x * (x > 0),
    "clip": lambda x: np.clip(x, 0, None),
    "copy_then_assign": lambda x: (lambda y: (y.__setitem__(y < 0, 0), y)[1])(x.copy()),
}

RELU_NP_WRONG = {
    "abs": (np.abs, "|x|"),
    "leaky": (lambda x: np.where(x > 0, x, 0.01 * x), "leaky"),
    "minimum": (lambda x: np.minimum(x, 0), "min(0, x)"),
    "identity": (lambda x: x.copy(), "unchanged"),
    "in_place": (_in_place, "in place"),
    "float64_output": (lambda x: np.maximum(x, 0.0).astype(np.float64), "dtype"),
    "python_float_zero_on_ints": (lambda x: np.maximum(x, 0.0), "dtype"),
    "list_output": (lambda x: [max(0, v) for v in np.ravel(x)], "not a numpy array"),
    "tf_output": (lambda x: tf.nn.relu(x), "not a numpy array"),
    "returns_none": (lambda x: None, "return"),
    "stub": (_stub, "not implemented yet"),
    "raises": (lambda x: x / "a", "raised"),
    "flattens": (lambda x: np.maximum(np.ravel(x), 0), "shape"),
    "threshold_one": (lambda x: np.where(x > 1, x, 0), "were set to 0"),
    "infinite_loop": (_loops_forever, "did not finish"),
    "loop_catching_exceptions": (_swallows_errors_and_loops, "did not finish"),
    "hard_coded": (lambda x: np.array([0.0, 0.0, 2.0], dtype=np.float32), "shape"),
}


@pytest.mark.parametrize("name", RELU_NP_CORRECT)
def test_relu_np_accepts(name):
    check_relu_np(RELU_NP_CORRECT[name])


@pytest.mark.parametrize("name", RELU_NP_WRONG)
def test_relu_np_rejects(name, rejected):
    candidate, fragment = RELU_NP_WRONG[name]
    rejected(check_relu_np, candidate, fragment)


def test_check_reports_the_input_and_a_hint(rejected):
    message = rejected(check_relu_np, np.abs, "input:", "expected:", "got:", "hint:")
    assert "Traceback" not in message


def test_check_rejects_a_called_function(rejected):
    rejected(check_relu_np, np.maximum(np.ones(3), 0), "pass the function")


# ---------------------------------------------------------------- relu_tf
RELU_TF_CORRECT = {
    "maximum": lambda x: tf.maximum(x, 0),
    "nn_relu": tf.nn.relu,
    "where": lambda x: tf.where(x > 0, x, tf.zeros_like(x)),
    "mask_multiply": lambda x: x * tf.cast(x > 0, x.dtype),
    "keras_activation": lambda x: keras.activations.relu(x),
}

RELU_TF_WRONG = {
    "numpy_output": (lambda x: np.maximum(x, 0), "not a tf.tensor"),
    "numpy_inside_tf_function": (lambda x: tf.constant(np.maximum(x.numpy(), 0)), "tf.function"),
    "np_maximum_on_tensor_then_convert": (
        lambda x: tf.convert_to_tensor(np.maximum(x, 0)),
        "tf.function",
    ),
    "casts_to_float32": (lambda x: tf.maximum(tf.cast(x, tf.float32), 0.0), "dtype"),
    "abs": (tf.abs, "|x|"),
    "leaky": (lambda x: tf.where(x > 0, x, 0.01 * x), "leaky"),
    "stub": (_stub, "not implemented yet"),
    "relu6": (tf.nn.relu6, "capped at 6"),
    # a Keras layer computes in its dtype policy (float32): float64 input comes back float32
    "keras_layer_float32_policy": (lambda x: keras.layers.ReLU()(x), "dtype"),
}


@pytest.mark.parametrize("name", RELU_TF_CORRECT)
def test_relu_tf_accepts(name):
    check_relu_tf(RELU_TF_CORRECT[name])


@pytest.mark.parametrize("name", RELU_TF_WRONG)
def test_relu_tf_rejects(name, rejected):
    candidate, fragment = RELU_TF_WRONG[name]
    rejected(check_relu_tf, candidate, fragment)


# ---------------------------------------------------------------- relu_grad
def _sigmoid_derivative(x):
    with np.errstate(over="ignore"):  # exp(500) overflows to inf: sigmoid is 0 there anyway
        s = 1 / (1 + np.exp(-x))
    return (s * (1 - s)).astype(x.dtype)


RELU_GRAD_CORRECT = {
    "astype": lambda x: (x > 0).astype(x.dtype),
    "where": lambda x: np.where(x > 0, np.ones_like(x), np.zeros_like(x)),
    "heaviside_at_zero_0": lambda x: np.heaviside(x, 0).astype(x.dtype),
    "sign_clip": lambda x: np.clip(np.sign(x), 0, 1).astype(x.dtype),
}

RELU_GRAD_WRONG = {
    "one_at_zero": (lambda x: (x >= 0).astype(x.dtype), "x >= 0"),
    "half_at_zero": (lambda x: np.heaviside(x, 0.5).astype(x.dtype), "at exactly x = 0"),
    "boolean": (lambda x: x > 0, "booleans"),
    "float64": (lambda x: (x > 0).astype(np.float64), "dtype"),
    "relu_itself": (lambda x: np.maximum(x, 0), "relu(x) itself"),
    "sign": (lambda x: np.sign(x).astype(x.dtype), "derivative is 0"),
    "sigmoid_derivative": (_sigmoid_derivative, "wrong value"),
    "in_place": (lambda x: (x.__setitem__(slice(None), x > 0), x)[1], "in place"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", RELU_GRAD_CORRECT)
def test_relu_grad_accepts(name):
    check_relu_grad(RELU_GRAD_CORRECT[name])


@pytest.mark.parametrize("name", RELU_GRAD_WRONG)
def test_relu_grad_rejects(name, rejected):
    candidate, fragment = RELU_GRAD_WRONG[name]
    rejected(check_relu_grad, candidate, fragment)


# ---------------------------------------------------------------- hat_network
def _hat(
    hidden_kernel, hidden_bias, out_kernel, out_bias, activation="relu", units=3, functional=False
):
    def build():
        if functional:
            inputs = keras.Input((1,))
            h = keras.layers.Dense(units, activation=activation)(inputs)
            model = keras.Model(inputs, keras.layers.Dense(1)(h))
            dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        else:
            model = keras.Sequential(
                [
                    keras.Input((1,)),
                    keras.layers.Dense(units, activation=activation),
                    keras.layers.Dense(1),
                ]
            )
            dense = model.layers
        dense[0].set_weights(
            [np.array([hidden_kernel], dtype=np.float32), np.array(hidden_bias, dtype=np.float32)]
        )
        dense[1].set_weights(
            [
                np.array(out_kernel, dtype=np.float32).reshape(-1, 1),
                np.array([out_bias], dtype=np.float32),
            ]
        )
        return model

    return build


HAT_CORRECT = {
    "textbook": _hat([1, 1, 1], [1, 0, -1], [1, -2, 1], 0),
    "scaled_units": _hat([2, 3, 0.5], [2, 0, -0.5], [0.5, -2 / 3, 2], 0),
    "mirrored": _hat([-1, -1, -1], [1, 0, -1], [1, -2, 1], 0),
    "functional_api": _hat([1, 1, 1], [1, 0, -1], [1, -2, 1], 0, functional=True),
}

HAT_WRONG = {
    "no_cancellation_outside": (_hat([1, 1, 1], [1, 0, -1], [1, -2, 0], 0), "outside"),
    "one_minus_abs": (_hat([1, -1, 0], [0, 0, 0], [-1, -1, 0], 1), "outside"),
    "linear_hidden": (
        _hat([1, 1, 1], [1, 0, -1], [1, -2, 1], 0, activation="linear"),
        "dense(3, activation='relu')",
    ),
    "four_units": (_hat([1, 1, 1, 0], [1, 0, -1, 0], [1, -2, 1, 0], 0, units=4), "dense(3"),
    "untrained": (
        lambda: keras.Sequential(
            [keras.Input((1,)), keras.layers.Dense(3, "relu"), keras.layers.Dense(1)]
        ),
        "wrong at x",
    ),
    "returns_weights": (lambda: [np.ones((1, 3))], "not a keras.model"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", HAT_CORRECT)
def test_hat_network_accepts(name):
    check_hat_network(HAT_CORRECT[name])


@pytest.mark.parametrize("name", HAT_WRONG)
def test_hat_network_rejects(name, rejected):
    candidate, fragment = HAT_WRONG[name]
    rejected(check_hat_network, candidate, fragment)


HAT_HINT_CASES = {
    **{name: HAT_WRONG[name][0] for name in ("no_cancellation_outside", "one_minus_abs")},
    "kinks_in_the_wrong_places": _hat([1, 1, 1], [2, 0, -2], [0.5, -1, 0.5], 0),
    "flat_outside_but_lifted": _hat([1, 1, 1], [1, 0, -1], [1, -2, 1], 0.5),
    "left_side_rises": _hat([1, 1, -1], [1, 0, -2], [1, -1, 0.5], 0),
}


@pytest.mark.parametrize("name", HAT_HINT_CASES)
def test_hat_network_hints_teach_without_handing_over_weights(name, rejected):
    """Issue 14: a hint names the property that failed, never the weights that work."""
    message = rejected(check_hat_network, HAT_HINT_CASES[name], "hint:")
    hint = message.split("hint:", 1)[1]
    for answer in ("1, −2, 1", "1, -2, 1", "−2·relu", "relu(x+1)", "relu(x + 1)"):
        assert answer not in hint, f"the hint hands over the answer: {hint}"
    expected = {
        "no_cancellation_outside": "to the right of its last kink",
        "one_minus_abs": "outside [−1, 1]",
        "kinks_in_the_wrong_places": "Your units put kinks at -2, 0, 2",
        "flat_outside_but_lifted": "shifted up or down",
        "left_side_rises": "to the left of its first kink",
    }[name]
    assert expected in message, message
