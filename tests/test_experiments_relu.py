"""Unit tests of notebook 01's runners and figures (relu_course.experiments.relu,
relu_course.plots.relu)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from relu_course.data import Split, load_digits_split, two_moons
from relu_course.experiments.relu import (
    activation_regions,
    approximation_errors,
    evaluate_units,
    kink_trap,
    loglog_slope,
    relu_interpolant,
    relu_prime0_training,
    train_region_net,
)
from relu_course.plots.relu import (
    approximation_figure,
    kink_trap_figure,
    prime0_figure,
    regions_figure,
)


# --------------------------------------------------------------------- kink trap
def test_kink_trap_flags_inputs_within_h_of_zero_only():
    h = 1e-5
    errors = kink_trap([0.0, 0.3 * h, -0.3 * h, 3 * h, -3 * h, 1.0], h=h)
    assert errors[0] == pytest.approx(1.0)  # numerical 1/2 against analytic 0
    assert np.all(errors[1:3] > 0.1)
    assert np.all(errors[3:] < 1e-7)


def test_kink_trap_uses_the_functions_it_is_given():
    # a derivative with 1 at 0 turns the error at exactly 0 into 1/3 (0.5 against 1)
    errors = kink_trap([0.0], derivative=lambda x: (x >= 0).astype(x.dtype))
    assert errors[0] == pytest.approx(1 / 3)


# --------------------------------------------------------------------- ReLU'(0)
def _small_digits() -> Split:
    data = load_digits_split()
    return Split(data.x_train[:320], data.y_train[:320], data.x_val[:200], data.y_val[:200])


def test_prime0_arms_are_bit_identical_when_the_derivative_at_zero_is_the_same():
    run = relu_prime0_training(
        _small_digits(), seeds=(0, 1), prime0=(0.0, 0.0), epochs=2, width=16, depth=2
    )
    assert run.identical.all()  # the pairing itself adds no numerical difference
    np.testing.assert_array_equal(run.accuracy(0.0), run.val_accuracy[:, 1])
    assert run.val_accuracy.shape == (2, 2) and run.steps == 2 * (320 // 32)
    assert run.pre_activations == run.steps * 32 * 16 * 2  # steps × batch × width × depth


def test_prime0_float32_training_learns_and_counts_zeros():
    run = relu_prime0_training(_small_digits(), seeds=(0, 1), epochs=4, width=32, depth=2)
    assert np.all(run.val_accuracy > 0.5)  # it trains (chance is 0.1)
    assert run.zero_fraction.shape == (2, 2)
    assert np.all((run.zero_fraction >= 0) & (run.zero_fraction <= 1))
    # where no exact zero occurred, ReLU'(0) cannot have changed anything
    untouched = run.batches_with_zero[:, 0] == 0
    assert np.all(run.identical[untouched, 1])


def test_prime0_counts_exact_zeros_that_do_occur():
    """Inputs that are all 0 with zero biases give z = 0 exactly in the first layer: every
    pre-activation of the first layer of every step is an exact 0 (a third of 3 layers)."""
    data = _small_digits()
    zeros = Split(np.zeros_like(data.x_train), data.y_train, data.x_val, data.y_val)
    run = relu_prime0_training(zeros, seeds=(0,), epochs=1, width=8, depth=3)
    assert run.batches_with_zero[0, 0] == 1.0
    assert run.zero_fraction[0, 0] >= 1 / 3 - 1e-9
    # ReLU'(0) = 1 lets gradient into the first layer's biases: the arms differ
    assert not run.identical[0, 1]


def test_prime0_16_bit_compute_runs():
    run = relu_prime0_training(
        _small_digits(), dtype="bfloat16", seeds=(0,), prime0=(0.0,), epochs=4, width=32, depth=2
    )
    assert run.dtype == "bfloat16" and run.val_accuracy.shape == (1, 1)
    assert run.val_accuracy[0, 0] > 0.5  # trains in 16-bit compute too (chance is 0.1)


# --------------------------------------------------------------------- approximation
@pytest.mark.parametrize("method", ["interpolate", "lstsq"])
def test_relu_interpolant_is_a_keras_network(method):
    weights = relu_interpolant(np.sin, 6, -np.pi, np.pi, method)
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1)]
    )
    model.layers[0].set_weights(list(weights[:2]))
    model.layers[1].set_weights(list(weights[2:]))
    x = np.linspace(-np.pi, np.pi, 101)
    np.testing.assert_allclose(
        np.asarray(model(x.reshape(-1, 1).astype(np.float32))).ravel(),
        evaluate_units(weights, x),
        atol=1e-5,
    )


def test_interpolation_hits_the_knots_and_is_exact_on_lines():
    weights = relu_interpolant(np.sin, 8, -np.pi, np.pi)
    knots = np.linspace(-np.pi, np.pi, 9)
    np.testing.assert_allclose(evaluate_units(weights, knots), np.sin(knots), atol=1e-12)
    # f(x) = x is one straight line: one unit on [low, high], exact there
    line = relu_interpolant(lambda x: x, 1, -1.0, 1.0)
    np.testing.assert_allclose(evaluate_units(line, [-1.0, 0.3, 1.0]), [-1.0, 0.3, 1.0])


def test_error_falls_like_one_over_k_squared_for_a_smooth_function():
    ks = [8, 16, 32, 64]
    for method in ("interpolate", "lstsq"):
        errors = approximation_errors(np.sin, ks, -np.pi, np.pi, method)
        assert np.all(np.diff(errors) < 0)
        assert loglog_slope(ks, errors) == pytest.approx(-2.0, abs=0.15)
    # a kinked target is not smooth: |x| with kinks off its corner falls like 1/k only
    odd_ks = [9, 17, 33, 65]
    errors = approximation_errors(np.abs, odd_ks, -1.0, 1.0)
    assert loglog_slope(odd_ks, errors) == pytest.approx(-1.0, abs=0.15)


def test_loglog_slope_of_a_power_law():
    ks = np.array([2, 4, 8, 16])
    assert loglog_slope(ks, 3.0 / ks**2) == pytest.approx(-2.0)


# --------------------------------------------------------------------- regions
def test_regions_of_a_trained_net():
    data = two_moons(n=300)
    model = train_region_net(data, width=6, depth=2, steps=150)
    accuracy = np.mean(np.argmax(np.asarray(model(data.x_val)), axis=1) == data.y_val)
    assert accuracy > 0.8
    gx, gy = np.meshgrid(np.linspace(-2, 3, 60), np.linspace(-1.5, 2, 40))
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    labels, count = activation_regions(model, points)
    assert labels.shape == (len(points),) and labels.min() == 0 and labels.max() == count - 1
    assert 2 <= count <= 2 ** (2 * 6)
    # inside one region the network is one affine map: check it on a region's points
    logits = np.asarray(model(points.astype(np.float32)), dtype=np.float64)
    largest = np.bincount(labels).argmax()
    inside = labels == largest
    design = np.concatenate([points[inside], np.ones((inside.sum(), 1))], axis=1)
    coef = np.linalg.lstsq(design, logits[inside], rcond=None)[0]
    np.testing.assert_allclose(design @ coef, logits[inside], atol=1e-4)


def test_regions_are_numbered_in_order_of_appearance():
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, activation="relu"), keras.layers.Dense(2)]
    )
    model.layers[0].set_weights([np.array([[1.0], [0.0]]), np.array([0.0])])
    labels, count = activation_regions(model, [[1.0, 0.0], [-1.0, 0.0], [2.0, 5.0]])
    assert count == 2 and labels.tolist() == [0, 1, 0]


# --------------------------------------------------------------------- figures
def test_figures_are_returned():
    assert isinstance(kink_trap_figure([-1e-3, 0.0, 1e-3], [0.0, 1.0, 0.0], 1e-5), Figure)
    fractions = {"float32": np.zeros(3), "float16": np.array([1e-5, 2e-5, 0.0])}
    figure = prime0_figure(fractions, fractions, {"float32": np.zeros(3)}, 0.01)
    assert isinstance(figure, Figure)
    ks = np.array([4, 8, 16])
    grid = np.linspace(-1, 1, 5)
    assert isinstance(approximation_figure(grid, grid, {"k=4": grid}, ks, 1 / ks**2, -2.0), Figure)
    gx, gy = np.meshgrid(np.arange(3.0), np.arange(2.0))
    assert isinstance(
        regions_figure(gx, gy, np.arange(6), 6, np.zeros((2, 2)), [0, 1], gx - 1), Figure
    )
