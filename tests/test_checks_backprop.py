"""Checks of notebook 01's gradient checking and manual backprop exercises accept several
correct implementations and reject a catalogue of wrong ones, each named for its
misconception, with a message that names the problem."""

from __future__ import annotations

import numpy as np
import pytest

from relu_course.checks.backprop import (
    check_dense_relu_backward,
    check_dense_relu_forward,
    check_numerical_gradient,
    check_relative_error,
)


def _stub(*args, **kwargs):
    raise NotImplementedError()


# ---------------------------------------------------------------- numerical_gradient
def _centred_saving(f, x, h=1e-5):
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
        it.iternext()
    return grad


def _centred_on_copies(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def _centred_flat_view(f, x, h=1e-5):
    grad = np.zeros(x.size)
    flat = x.reshape(-1)  # the check's arrays are contiguous: a view
    for i in range(x.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad.reshape(x.shape)


def _with(variant):
    """A numerical gradient with one step of the centred recipe changed."""

    def numerical_gradient(f, x, h=1e-5):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            grad[i] = variant(f, x, i, h)
        return grad

    return numerical_gradient


def _forward(f, x, i, h):
    old = x[i]
    base = f(x)
    x[i] = old + h
    up = f(x)
    x[i] = old
    return (up - base) / h


def _divides_by_h(f, x, i, h):
    old = x[i]
    x[i] = old + h
    up = f(x)
    x[i] = old - h
    down = f(x)
    x[i] = old
    return (up - down) / h


def _restores_by_arithmetic(f, x, i, h):
    x[i] += h
    up = f(x)
    x[i] -= 2 * h
    down = f(x)
    x[i] += h  # does not always round back to the original float
    return (up - down) / (2 * h)


def _never_restores(f, x, i, h):
    old = x[i]
    x[i] = old + h
    up = f(x)
    x[i] = old - h
    down = f(x)
    return (up - down) / (2 * h)


def _float32(f, x, h=1e-5):
    x32 = x.astype(np.float32)
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x32[i]
        x32[i] = old + np.float32(h)
        up = f(x32)
        x32[i] = old - np.float32(h)
        down = f(x32)
        x32[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def _perturbs_everything(f, x, h=1e-5):
    return np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))


def _rows_only(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for i in range(len(x)):
        old = x[i].copy()
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


NUMERICAL_GRADIENT_CORRECT = {
    "save_and_restore_nditer": _centred_saving,
    "copies_no_mutation": _centred_on_copies,
    "flat_view": _centred_flat_view,
}

NUMERICAL_GRADIENT_WRONG = {
    "one_sided_forward": (_with(_forward), "one-sided"),
    "divides_by_h_not_2h": (_with(_divides_by_h), "2h apart"),
    "restores_by_adding_back_h": (_with(_restores_by_arithmetic), "did not restore x"),
    "never_restores": (_with(_never_restores), "put the original entry back"),
    "ignores_h": (lambda f, x, h=1e-5: _centred_saving(f, x, 1e-5), "ignored h"),
    "float32_copy": (_float32, "float64"),
    "perturbs_all_entries_at_once": (_perturbs_everything, "one entry at a time"),
    "only_the_first_axis": (_rows_only, "one entry at a time"),
    "returns_a_list": (lambda f, x, h=1e-5: _centred_saving(f, x, h).tolist(), "numpy array"),
    "flattens": (lambda f, x, h=1e-5: _centred_saving(f, x, h).ravel(), "every entry"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", NUMERICAL_GRADIENT_CORRECT)
def test_numerical_gradient_accepts(name):
    check_numerical_gradient(NUMERICAL_GRADIENT_CORRECT[name])


@pytest.mark.parametrize("name", NUMERICAL_GRADIENT_WRONG)
def test_numerical_gradient_rejects(name, rejected):
    candidate, fragment = NUMERICAL_GRADIENT_WRONG[name]
    rejected(check_numerical_gradient, candidate, fragment)


# ---------------------------------------------------------------- relative_error
def _floor(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def _no_floor(a, b):
    with np.errstate(invalid="ignore"):  # 0/0 where both are 0: the very problem
        return np.max(np.abs(a - b) / (np.abs(a) + np.abs(b)))


RELATIVE_ERROR_CORRECT = {
    "numpy": _floor,
    "float": lambda a, b: float(_floor(np.asarray(a), np.asarray(b))),
    "where_both_zero": lambda a, b: float(
        np.max(
            np.where(
                (np.abs(a) + np.abs(b)) > 1e-8,
                np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-300),
                np.abs(a - b) / 1e-8,
            )
        )
    ),
}

RELATIVE_ERROR_WRONG = {
    "no_floor": (_no_floor, "floor"),
    "epsilon_added": (
        lambda a, b: np.max(np.abs(a - b) / (np.abs(a) + np.abs(b) + 1e-8)),
        "not a constant added",
    ),
    "mean_not_max": (
        lambda a, b: np.mean(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))),
        "maximum over elements",
    ),
    "divides_by_max_not_sum": (
        lambda a, b: np.max(np.abs(a - b) / np.maximum(1e-8, np.maximum(np.abs(a), np.abs(b)))),
        "not by max(|a|, |b|)",
    ),
    "divides_by_a_only": (
        lambda a, b: np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a))),
        "not by |a| alone",
    ),
    "absolute_error": (lambda a, b: np.max(np.abs(a - b)), "sizes of a and b"),
    "signed_difference": (
        lambda a, b: np.max((a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))),
        "elementwise",
    ),
    "elementwise_array": (
        lambda a, b: np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)),
        "not one number",
    ),
    "returns_none": (lambda a, b: None, "return"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", RELATIVE_ERROR_CORRECT)
def test_relative_error_accepts(name):
    check_relative_error(RELATIVE_ERROR_CORRECT[name])


@pytest.mark.parametrize("name", RELATIVE_ERROR_WRONG)
def test_relative_error_rejects(name, rejected):
    candidate, fragment = RELATIVE_ERROR_WRONG[name]
    rejected(check_relative_error, candidate, fragment)


# ---------------------------------------------------------------- dense_relu_forward
def _forward_reference(x, W, b):
    z = x @ W + b
    return np.maximum(z, 0), (x, W, b, z)


DENSE_FORWARD_CORRECT = {
    "maximum": _forward_reference,
    "where": lambda x, W, b: (lambda z: (np.where(z > 0, z, 0).astype(z.dtype), (x, W, b, z)))(
        np.dot(x, W) + b
    ),
    "copies_in_cache": lambda x, W, b: (
        lambda z: (z * (z > 0), (x.copy(), W.copy(), b.copy(), z.copy()))
    )(x @ W + b),
}

DENSE_FORWARD_WRONG = {
    "no_relu": (lambda x, W, b: (x @ W + b, (x, W, b, x @ W + b)), "apply relu"),
    "no_bias": (lambda x, W, b: _forward_reference(x, W, np.zeros_like(b)), "add the bias"),
    "bias_after_relu": (
        lambda x, W, b: (np.maximum(x @ W, 0) + b, (x, W, b, x @ W + b)),
        "before the relu",
    ),
    "cache_holds_relu_output": (
        lambda x, W, b: (lambda out, c: (out, (x, W, b, out)))(*_forward_reference(x, W, b)),
        "pre-activation",
    ),
    "cache_in_another_order": (
        lambda x, W, b: (lambda out, c: (out, (c[3], x, W, b)))(*_forward_reference(x, W, b)),
        "(x, w, b, z)",
    ),
    "cache_without_z": (
        lambda x, W, b: (_forward_reference(x, W, b)[0], (x, W, b)),
        "tuple of 4 arrays",
    ),
    "returns_out_only": (lambda x, W, b: _forward_reference(x, W, b)[0], "not a pair"),
    "transposed_product": (lambda x, W, b: _forward_reference(x, W.T, b), "raised"),
    "leaky": (
        lambda x, W, b: (lambda z: (np.where(z > 0, z, 0.01 * z), (x, W, b, z)))(x @ W + b),
        "not be scaled",
    ),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", DENSE_FORWARD_CORRECT)
def test_dense_relu_forward_accepts(name):
    check_dense_relu_forward(DENSE_FORWARD_CORRECT[name])


@pytest.mark.parametrize("name", DENSE_FORWARD_WRONG)
def test_dense_relu_forward_rejects(name, rejected):
    candidate, fragment = DENSE_FORWARD_WRONG[name]
    rejected(check_dense_relu_forward, candidate, fragment)


# ---------------------------------------------------------------- dense_relu_backward
def _backward(mask=lambda dout, z: z > 0, reduce_b=lambda dz: dz.sum(axis=0)):
    def dense_relu_backward(dout, cache):
        x, W, b, z = cache
        dz = dout * mask(dout, z)
        return dz @ W.T, x.T @ dz, reduce_b(dz)

    return dense_relu_backward


def _in_place(dout, cache):
    x, W, b, z = cache
    dout[z <= 0] = 0
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def _mask_on_dx(dout, cache):
    x, W, b, z = cache
    return (dout @ W.T) * (x > 0), x.T @ (dout * (z > 0)), (dout * (z > 0)).sum(axis=0)


DENSE_BACKWARD_CORRECT = {
    "mask_from_z": _backward(),
    "mask_from_output": _backward(mask=lambda dout, z: np.maximum(z, 0) > 0),
    "where": _backward(mask=lambda dout, z: np.where(z > 0, 1.0, 0.0).astype(z.dtype)),
    "einsum": lambda dout, cache: (
        lambda dz: (
            np.einsum("nm,dm->nd", dz, cache[1]),
            np.einsum("nd,nm->dm", cache[0], dz),
            np.einsum("nm->m", dz),
        )
    )(np.where(cache[3] > 0, dout, 0).astype(dout.dtype)),
}

DENSE_BACKWARD_WRONG = {
    "mask_from_upstream_gradient": (_backward(mask=lambda dout, z: dout > 0), "upstream"),
    "gradient_one_at_zero": (_backward(mask=lambda dout, z: z >= 0), "z >= 0"),
    "no_mask": (_backward(mask=lambda dout, z: 1.0), "apply the relu mask"),
    "db_not_summed": (_backward(reduce_b=lambda dz: dz), "sum dz over the batch"),
    "db_mean": (_backward(reduce_b=lambda dz: dz.mean(axis=0)), "not the mean"),
    "db_keepdims": (
        _backward(reduce_b=lambda dz: dz.sum(axis=0, keepdims=True)),
        "without keepdims",
    ),
    "dW_transposed": (
        lambda dout, cache: (lambda dz: (dz @ cache[1].T, dz.T @ cache[0], dz.sum(axis=0)))(
            dout * (cache[3] > 0)
        ),
        "yours is transposed",
    ),
    "dx_without_transpose": (
        lambda dout, cache: (lambda dz: (dz @ cache[1], cache[0].T @ dz, dz.sum(axis=0)))(
            dout * (cache[3] > 0)
        ),
        "raised",
    ),
    "mask_on_dx_from_x": (_mask_on_dx, "dx is wrong"),
    "modifies_dout_in_place": (_in_place, "in place"),
    "wrong_order": (
        lambda dout, cache: (lambda g: (g[1], g[0], g[2]))(_backward()(dout, cache)),
        "order (dx, dw, db)",
    ),
    "returns_two": (lambda dout, cache: _backward()(dout, cache)[:2], "three arrays"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", DENSE_BACKWARD_CORRECT)
def test_dense_relu_backward_accepts(name):
    check_dense_relu_backward(DENSE_BACKWARD_CORRECT[name])


@pytest.mark.parametrize("name", DENSE_BACKWARD_WRONG)
def test_dense_relu_backward_rejects(name, rejected):
    candidate, fragment = DENSE_BACKWARD_WRONG[name]
    rejected(check_dense_relu_backward, candidate, fragment)


def test_backward_messages_show_input_expected_and_hint(rejected):
    message = rejected(
        check_dense_relu_backward,
        DENSE_BACKWARD_WRONG["gradient_one_at_zero"][0],
        "input:",
        "expected:",
        "got:",
        "hint:",
    )
    assert "Traceback" not in message


# Wrong answer cells for the grader's clean-process re-verification (tests/test_verify_probes.py).
PROBE_MISCONCEPTIONS = {
    "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n"
    "    grad = np.zeros(x.shape)\n"
    "    for i in np.ndindex(x.shape):\n"
    "        base = f(x)\n"
    "        x[i] += h\n"
    "        grad[i] = (f(x) - base) / h\n"
    "        x[i] -= h\n"
    "    return grad\n",
    "dense_relu_backward": "def dense_relu_backward(dout, cache):\n"
    "    x, W, b, z = cache\n"
    "    dz = dout * (z >= 0)\n"
    "    return dz @ W.T, x.T @ dz, dz.sum(axis=0)\n",
    "relative_error": "def relative_error(a, b):\n"
    "    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))\n",
    "dense_relu_forward": "def dense_relu_forward(x, W, b):\n"
    "    z = x @ W + b\n"
    "    out = np.maximum(z, 0)\n"
    "    return out, (x, W, b, out)\n",
}
