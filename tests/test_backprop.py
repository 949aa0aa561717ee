"""Unit tests of notebook 01's NumPy references (relu_course.backprop)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from relu_course.backprop import (
    dense_relu_backward,
    dense_relu_forward,
    numerical_gradient,
    relative_error,
    relu_backward,
)


def _tape_gradients(x, W, b, dout):
    xs = [tf.constant(v) for v in (x, W, b)]
    with tf.GradientTape() as tape:
        for v in xs:
            tape.watch(v)
        out = tf.nn.relu(xs[0] @ xs[1] + xs[2])
        loss = tf.reduce_sum(out * dout)
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, xs)]


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 3, 2)])
def test_numerical_gradient_matches_analytic_and_restores_x(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    before = x.copy()
    a = rng.normal(size=shape)
    grad = numerical_gradient(lambda v: float(np.sum(a * np.sin(v) + v**3)), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, a * np.cos(before) + 3 * before**2, rtol=1e-7, atol=1e-9)
    assert np.array_equal(x, before)  # bit for bit


def test_numerical_gradient_is_centred_and_uses_h():
    # ((x + h)³ − (x − h)³) / 2h = 3x² + h² exactly: a one-sided or fixed-h version differs
    x = np.array([0.5, -1.5, 2.0])
    for h in (1e-2, 1e-3):
        grad = numerical_gradient(lambda v: float(np.sum(v**3)), x, h=h)
        np.testing.assert_allclose(grad, 3 * x**2 + h**2, rtol=1e-9)


def test_numerical_gradient_on_a_non_contiguous_view():
    base = np.random.default_rng(1).normal(size=(4, 6))
    view = base[:, ::2]
    grad = numerical_gradient(lambda v: float(np.sum(v**2)), view)
    np.testing.assert_allclose(grad, 2 * view, rtol=1e-7)


def test_relative_error_definition():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # the floor avoids 0/0
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0], [3.0]) == pytest.approx(0.5)
    assert relative_error([0.0], [1e-12]) == pytest.approx(1e-4)  # floor 1e-8, not 1
    assert relative_error([1.0, 0.0], [1.0, 1.0]) == pytest.approx(1.0)  # max, not mean
    assert relative_error(np.ones((2, 2)), 2 * np.ones((2, 2))) == pytest.approx(1 / 3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_relu_forward_and_backward_match_gradient_tape(dtype):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 4)).astype(dtype)
    W = rng.normal(size=(4, 3)).astype(dtype)
    b = rng.normal(size=3).astype(dtype)
    dout = rng.normal(size=(5, 3)).astype(dtype)
    out, cache = dense_relu_forward(x, W, b)
    assert cache[0] is x and cache[1] is W and cache[2] is b
    np.testing.assert_allclose(cache[3], x @ W + b)
    tape_out, tape_grads = _tape_gradients(x, W, b, dout)
    np.testing.assert_allclose(out, tape_out, rtol=1e-5)
    for mine, theirs in zip(dense_relu_backward(dout, cache), tape_grads, strict=True):
        assert mine.shape == theirs.shape and mine.dtype == dtype
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_backward_at_exact_zeros_uses_tensorflows_convention():
    x = np.array([[1.0, -1.0], [0.0, 2.0], [0.0, 0.0]])
    W = np.array([[1.0, 0.5, -1.0], [1.0, 0.5, 2.0]])
    b = np.array([0.0, 0.0, 1.0])
    dout = np.arange(1.0, 10.0).reshape(3, 3)
    _, cache = dense_relu_forward(x, W, b)
    assert np.sum(cache[3] == 0) >= 3
    _, tape_grads = _tape_gradients(x, W, b, dout)
    for mine, theirs in zip(dense_relu_backward(dout, cache), tape_grads, strict=True):
        np.testing.assert_allclose(mine, theirs)
    one = dense_relu_backward(dout, cache, prime_at_zero=1.0)
    assert not np.allclose(one[2], tape_grads[2])  # ReLU′(0) = 1 lets more gradient through


def test_backward_matches_the_numerical_gradient_away_from_kinks():
    rng = np.random.default_rng(3)
    x, W, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    _, cache = dense_relu_forward(x, W, b)
    assert np.min(np.abs(cache[3])) > 1e-3
    dout = rng.normal(size=(6, 5))
    dx, dW, db = dense_relu_backward(dout, cache)
    for value, grad in ((x, dx), (W, dW), (b, db)):
        numeric = numerical_gradient(
            lambda _: float(np.sum(dense_relu_forward(x, W, b)[0] * dout)), value
        )
        assert relative_error(numeric, grad) < 1e-7


def test_relu_backward_does_not_touch_its_inputs():
    dout = np.array([1.0, -2.0, 3.0])
    z = np.array([-1.0, 0.0, 2.0])
    dout_before = dout.copy()
    np.testing.assert_array_equal(relu_backward(dout, z), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu_backward(dout, z, 1.0), [0.0, -2.0, 3.0])
    np.testing.assert_array_equal(dout, dout_before)
